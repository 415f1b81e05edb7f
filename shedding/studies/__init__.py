"""Built-in studies: their sweep files (``*.toml``, data) and the modules that turn
their finished run files into findings."""
