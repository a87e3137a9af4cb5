"""The UI's pages, one module per area; `app.ui.routes` lists them."""
