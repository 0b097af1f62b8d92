"""The Gradio page: shared controls and helpers here, one module per tab in ui/tabs/."""
