"""Markdown tables and summaries of analysis results (pure functions, no torch). Names and
tokens are escaped: a local folder or Hub id may carry markup."""

from __future__ import annotations

import html


def rank_summary_markdown(reports) -> str:
    """One line per (model name, RankReport): heads at full rank, mean effective rank, smallest diagonal."""
    lines = []
    for name, r in reports:
        n = min(r.shape)
        full = int((r.rank == n).sum())
        lines.append(f"- **{html.escape(name)}** ({r.kind}, n = {n}): {full} of {r.rank.size} heads full rank at tolerance "
                     f"{r.tolerance:.0e}; mean effective rank {r.effective_rank.mean():.1f}; smallest diagonal "
                     f"weight {r.min_diagonal.min():.1e}.")
    return "\n".join(lines)


def order_table_markdown(results) -> str:
    """The order experiment of each model: the shuffle and the largest output difference."""
    lines = ["| model | shuffled | max difference, positions removed | with positions |", "|---|---|---|---|"]
    for r in results:
        lines.append(f"| {html.escape(r.model_key)} ({r.family}) | {html.escape(' '.join(r.shuffled))} | "
                     f"**{r.max_without_positions:.2e}** | {r.max_with_positions:.2e} |")
    return "\n".join(lines)
