"""One module per tab, in page order. Each holds its layout and handlers and says what its
numbers are: ID (the deep-link name), LABEL, build(page, tab) and numbers(values, text), where
`values` maps each linked control's elem_id to its value."""

from ui.tabs import (ablation, architecture, attention, attribution, compare, decoding, graph, lens, masks, moe, objectives, order, pair,
                     patterns, positions, qk, rank)

TABS = (compare, attention, pair, masks, patterns, rank, graph, lens, attribution, ablation, qk, decoding, architecture, objectives, positions, order, moe)
IDS = tuple(tab.ID for tab in TABS)
BY_ID = {tab.ID: tab for tab in TABS}
