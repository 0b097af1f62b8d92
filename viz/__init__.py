"""Pure figure functions: data objects from models.data in, Plotly figures or HTML out."""
