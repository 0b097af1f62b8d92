"""Markdown tables and summaries of analysis results (pure functions, no torch). Names and
tokens are escaped: a local folder or Hub id may carry markup."""

from __future__ import annotations

import html

import numpy as np

from viz.words import model_words, t


def cell_text(text: str) -> str:
    """Model text for a Markdown table cell: escaped, and its | written as an entity, which would
    otherwise end the cell (GPT-2's <|endoftext|> split a row in two)."""
    return html.escape(text).replace("|", "&#124;")


def rank_summary_markdown(reports) -> str:
    """One line per (model name, RankReport): heads at full rank, mean effective rank, smallest diagonal."""
    lines = []
    for name, r in reports:
        n = min(r.shape)
        full = int((r.rank == n).sum())
        lines.append(f"- **{html.escape(model_words(name))}** ({t(r.kind)}, n = {n}): " + t(
            "{full} of {heads} heads full rank at tolerance {tolerance}; mean effective rank {effective}; smallest "
            "diagonal weight {diagonal}.", full=full, heads=r.rank.size, tolerance=f"{r.tolerance:.0e}",
            effective=f"{r.effective_rank.mean():.1f}", diagonal=f"{r.min_diagonal.min():.1e}"))
    return "\n".join(lines)


def exact_rank_text(report) -> str:
    """How many heads of a RankReport are full rank exactly, by the triangular argument, or why none is."""
    size = report.rank.size
    exact, triangular = int(report.full_rank_exact.sum()), int(report.triangular.sum())
    if not triangular:
        return t("not triangular: no exact guarantee of full rank; only the numerical rank tells")
    if exact == triangular:
        return t("exactly full rank in {} of {} heads: lower triangular, every diagonal weight > 0, "
                 "so det = ∏ a[i, i] > 0", exact, size)
    return t("exactly full rank in {} of {} heads; in {} more the matrix is triangular but a diagonal weight "
             "is stored as 0, so det = 0", exact, size, triangular - exact)


def rank_lesson_markdown(reports) -> str:
    """The rank view's summary for (model name, RankReport) pairs: first the exact argument, which
    needs no tolerance, then the numbers, at float32 precision and at the chosen tolerance."""
    lines = [t("**Exactly** (no tolerance): a lower-triangular matrix has det = ∏ a[i, i], and softmax "
               "gives every allowed key, the token itself included, a weight > 0.")]
    for name, r in reports:
        line = f"- **{html.escape(model_words(name))}** ({t(r.kind)}, n = {min(r.shape)}): {exact_rank_text(r)}"
        if r.full_rank_exact.any():
            logs = r.log_det[r.full_rank_exact]
            line += " " + t("(smallest a[i, i] {:.1e}; log det from {:.1f} to {:.1f})",
                            float(r.min_diagonal[r.full_rank_exact].min()), float(logs.min()), float(logs.max()))
        lines.append(line + ".")
    lines += ["", t("**Numerically** (singular values, so a tolerance decides what counts as zero):")]
    for name, r in reports:
        n = min(r.shape)
        smallest = float((r.singular_values[..., -1] / np.maximum(r.singular_values[..., 0], 1e-300)).min())
        line = f"- **{html.escape(model_words(name))}**: " + t(
            "{} of {} heads full rank at float32 precision (σmin > n·ε·σ1 = {:.1e} σ1, numpy's `matrix_rank` "
            "default); smallest σmin / σ1 = {:.1e}.", int((r.float_rank == n).sum()), r.rank.size,
            r.float_tolerance, smallest)
        # Rounding can hide what the diagonal proves: say so rather than let the two counts clash.
        hidden = int((r.full_rank_exact & (r.float_rank < n)).sum())
        if hidden:
            line += " " + t("The other {} are full rank exactly all the same: their smallest singular value is "
                            "tiny, not 0.", hidden)
        lines.append(line)
    return "\n".join(lines) + "\n" + rank_summary_markdown(reports)


def order_table_markdown(results) -> str:
    """The order experiment of each model: the shuffle and the largest output difference."""
    lines = [f"| {t('model')} | {t('shuffled')} | {t('max difference, positions removed')} | {t('with positions')} |",
             "|---|---|---|---|"]
    for r in results:
        lines.append(f"| {html.escape(r.model_key)} ({t(r.family)}) | <span translate='no'>{cell_text(' '.join(r.shuffled))}</span> | "
                     f"**{r.max_without_positions:.2e}** | {r.max_with_positions:.2e} |")
    return "\n".join(lines)


def ablation_markdown(result) -> str:
    """Head ablation: the top tokens at the compared position with and without the heads, the
    prediction's probability, the divergence and the greedy text (models.results.Ablation)."""
    def cell(token: str, prob: float) -> str:
        return f"<span translate='no'>{cell_text(token)}</span> {prob:.3f}"

    off = ", ".join(f"{l}:{h}" for l, h in result.heads_off) or t("none")
    before, after = result.prediction_prob
    lines = [t("Heads switched off ({kind}): {heads}. Compared at position {position} "
               "(<span translate='no'>{token}</span>).", kind=t(result.kind), heads=off, position=result.position,
               token=html.escape(result.position_token)), "",
             f"| # | {t('all heads')} | {t('heads off')} |", "|---|---|---|"]
    for i, (bt, bp, at, ap) in enumerate(zip(result.base_tokens, result.base_probs, result.ablated_tokens,
                                             result.ablated_probs), 1):
        lines.append(f"| {i} | {cell(bt, float(bp))} | {cell(at, float(ap))} |")
    lines += ["", t("P(prediction): {before} with all heads, {after} with them off; KL divergence {kl} nats.",
                    before=f"{before:.4f}", after=f"{after:.4f}", kl=f"{result.kl:.4f}")]
    if result.base_text or result.ablated_text:
        lines += ["", f"- {t('all heads')}: <span translate='no'>{html.escape(result.base_text)}</span>",
                  f"- {t('heads off')}: <span translate='no'>{html.escape(result.ablated_text)}</span>"]
    return "\n".join(lines)


def attribution_markdown(result) -> str:
    """The attributed tokens and f, beside the attribution figure (models.results.Attribution)."""
    def token(text: str) -> str:
        return f"<span translate='no'>{html.escape(text)}</span>"

    line = (t("Target {target} and not {contrast}, at position {position}: f = log p(target) − log p(other).",
              target=token(result.target), contrast=token(result.contrast), position=result.position)
            if result.contrast is not None else
            t("Target {target}, at position {position}: f = log p(target).", target=token(result.target),
              position=result.position))
    return line + " " + t("f(input) = {value}, f(baseline) = {base}; the baseline is the padding token at every position.",
                          value=f"{result.value:.4f}", base=f"{result.baseline_value:.4f}")
