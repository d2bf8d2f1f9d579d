"""The run folder as a data format: the record's schema and cell keys (``record``), the folder
and its rules (``runfolder``), and the shards of a split run (``shards``)."""
