"""Transformer Triptych: BERT, GPT, T5 and LLaMA side by side, live, on real models.

Run `python app.py` and open http://127.0.0.1:7860 (host and port follow GRADIO_SERVER_NAME /
GRADIO_SERVER_PORT, as on Hugging Face Spaces). The page is built in ui/ (one module per tab in
ui/tabs/), the numbers come from models/, the figures from viz/.
"""

from __future__ import annotations

import logging

from ui.page import build_demo, launch_settings
from ui.server import drain_on_sigterm


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    demo = build_demo()
    drain_on_sigterm(demo)
    demo.launch(**launch_settings())


if __name__ == "__main__":
    main()
