"""Raw data: readers, token normalisation and the raw-data search path."""
