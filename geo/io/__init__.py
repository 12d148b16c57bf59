"""I/O of the analysis layer: importers (files → store) and the synthetic demo generator — the only writers of
incidents and hospitals."""
