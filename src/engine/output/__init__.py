"""The decision document and what is written from it: table, CSV, JSON, XLSX and HTML reports, explanations, gaps, comparisons; all-or-nothing and reader-safe."""
