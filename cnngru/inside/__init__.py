"""What each CNN filter and GRU unit of a model detects: tables built once, read by the demo.

    cnngru inside build                        # writes checkpoints/<variant>/inside.json
    from cnngru.inside import load_table
    table = load_table("checkpoints/hybrid")   # refuses a table built for other weights
"""

from .table import FILE, InsideTable, InsideTableError, firing, load_table, table_for

__all__ = ["FILE", "InsideTable", "InsideTableError", "load_table", "table_for", "firing"]
