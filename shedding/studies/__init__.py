"""Built-in studies as data: the manifest ``studies.toml`` (which studies exist, their sweep
files and what writes their findings), the sweep files (``*.toml``), and the modules that
turn finished run files into findings (:mod:`.first`, :mod:`.regimes`)."""
