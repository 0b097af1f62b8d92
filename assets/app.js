() => {
  // Two small relays from the page to the server, each through a hidden button:
  // 1. Typing in the text box: 300 ms after the last keystroke, click #text-settled, so the
  //    Compare columns run once per pause instead of once per key.
  // 2. A click on a tile of the all-heads overview: write "x|y" (the cell's axis labels) into
  //    #overview-pick and click #overview-open, which opens that head.
  const press = (id) => document.querySelector(`#${id}`)?.click();
  let typing = null;
  document.addEventListener("input", (event) => {
    if (!event.target.closest || !event.target.closest("#text")) return;
    clearTimeout(typing);
    typing = setTimeout(() => press("text-settled"), 300);
  });
  const bind = () => {
    document.querySelectorAll("#overview .js-plotly-plot").forEach((plot) => {
      if (plot.__triptychBound || typeof plot.on !== "function") return;
      plot.__triptychBound = true;
      plot.on("plotly_click", (event) => {
        const point = event && event.points && event.points[0];
        const box = document.querySelector("#overview-pick textarea, #overview-pick input");
        if (!point || !box) return;
        box.value = `${point.x}|${point.y}`;
        box.dispatchEvent(new Event("input", { bubbles: true }));
        setTimeout(() => press("overview-open"), 0);
      });
    });
  };
  new MutationObserver(bind).observe(document.body, { childList: true, subtree: true });
  bind();
}
