"""Records as people keep them: the record models, the readers (CSV, XLSX, JSON, YAML), column-wise validation, the field vocabulary and the fill-in template."""
