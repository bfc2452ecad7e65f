"""`evalkit view`: a local web page to read samples, find grading errors and compare runs.

Reads run directories only (like reports/): `discover` finds them, `index` reads each once into columns
plus byte offsets, `query` filters, sorts and pages them, `api` turns requests into JSON, `server`
serves that JSON and the static page (static/: plain HTML/CSS/JS and a vendored KaTeX). Nothing here
writes to a run directory, and nothing here is imported by `evalkit run`.
"""
