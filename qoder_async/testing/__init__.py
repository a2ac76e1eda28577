"""Testing helpers: a faithful fake Qoder server and a pytest plugin."""
