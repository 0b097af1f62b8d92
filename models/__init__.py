"""Loading and running the models, and the results the views draw; data.py, results.py, numeric.py
and analysis.py import no torch, so viz/ can use them."""
