"""`crossgrad explain`: the correct worked derivation of a problem, every term shown.

terms.py      the exact term-by-term expansion of every quantity (checked to add up)
document.py   the derivation as blocks (headings, prose, equations) in the seed's style
style.py      numbers, symbols and matrices as LaTeX or plain Unicode
markdown.py, latex.py, text.py   the writers; toml_form.py   the TOML derivation `verify` reads
"""
