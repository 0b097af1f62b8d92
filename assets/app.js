() => {
  // The page's side of the app: small relays to the server through hidden buttons, the URL kept
  // in step with the view (deep links), lecture mode, the language switch and copy-link.
  const $ = (selector) => document.querySelector(selector);
  const press = (id) => $(`#${id}`)?.click();

  // 1. Run and Enter run the views of the tab that is shown, once: the Compare columns (one relay
  //    each: one Gradio trigger runs its listeners one after another, separate clicks run side by
  //    side) or the shown tab's Run relay (data-runs). The columns also follow the typing, 300 ms
  //    after the last keystroke, while Compare is shown. A hidden tab computes nothing: Compare
  //    catches up when it is opened, the other tabs run their views when selected.
  const settle = () => document.querySelectorAll("[id^='text-settled-']").forEach((button) => button.click());
  let typing = null;
  let edited = 0;       // how many edits of the text so far
  let compareSeen = -1; // the edit the columns last ran on (-1: not since the last link or scenario)
  const runCompare = () => { compareSeen = edited; settle(); };
  const runShown = () => {
    clearTimeout(typing);
    const tab = activeTab();
    if (tab === "compare") return runCompare();
    let runs = {};
    try { runs = JSON.parse($("#linked-ids")?.dataset.runs || "{}"); } catch (err) { runs = {}; }
    if (runs[tab]) press(runs[tab]);
  };
  document.addEventListener("input", (event) => {
    if (!event.target.closest || !event.target.closest("#text")) return;
    edited += 1;
    clearTimeout(typing);
    if (activeTab() === "compare") typing = setTimeout(runCompare, 300);
  });
  document.addEventListener("click", (event) => {
    if (event.target.closest && event.target.closest("#run")) runShown();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && event.target.closest && event.target.closest("#text, #text-b")) {
      runShown();
    }
  });

  // 2. A click on a tile of the all-heads overview: write "x|y" (the cell's axis labels) into
  //    #overview-pick and click #overview-open, which opens that head.
  const bind = () => {
    document.querySelectorAll("#overview .js-plotly-plot").forEach((plot) => {
      if (plot.__triptychBound || typeof plot.on !== "function") return;
      plot.__triptychBound = true;
      plot.on("plotly_click", (event) => {
        const point = event && event.points && event.points[0];
        const box = $("#overview-pick textarea, #overview-pick input");
        if (!point || !box) return;
        box.value = `${point.x}|${point.y}`;
        box.dispatchEvent(new Event("input", { bubbles: true }));
        setTimeout(() => press("overview-open"), 0);
      });
    });
  };
  //    The chosen head's outline on the overview follows the head the heatmap shows (its
  //    layout.meta), so it moves when a slider is released, a tile clicked or a run clamps the
  //    sliders, and only once the server has drawn that head. Moved here, not redrawn on the
  //    server: the overview is megabytes (3.4 MB for 12 x 12 heads at 64 tokens), resending it
  //    on every slider release is what the two-step Attention view was built to avoid, and even
  //    the embedded models' overviews reach a few hundred kB at longer texts.
  const placeOutline = () => {
    const plot = $("#overview .js-plotly-plot");
    const tiles = plot?.layout?.meta?.tiles;
    const shape = plot?.layout?.shapes?.[0];
    const chosen = $("#att-heatmap .js-plotly-plot")?.layout?.meta;
    if (!tiles || !shape || !chosen || typeof window.Plotly?.relayout !== "function") return;
    const within = (value, count) => Math.min(Math.max(Number(value) || 0, 0), count - 1);
    // The same box as viz/overview.py tile_box: cell i spans i - 0.5 .. i + 0.5, one gap between tiles.
    const x0 = within(chosen.head, tiles.heads) * (tiles.cols + 1) - 0.5;
    const y0 = within(chosen.layer, tiles.layers) * (tiles.rows + 1) - 0.5;
    const box = { x0, x1: x0 + tiles.cols, y0, y1: y0 + tiles.rows };
    if (shape.visible !== false && Object.entries(box).every(([key, value]) => shape[key] === value)) return;
    const update = { "shapes[0].visible": true };
    for (const [key, value] of Object.entries(box)) update[`shapes[0].${key}`] = value;
    window.Plotly.relayout(plot, update);
  };
  new MutationObserver(() => { bind(); placeOutline(); }).observe(document.body, { childList: true, subtree: true });
  bind();

  // 2b. Enter in a slider's number box commits the number: Gradio redraws a view when its slider
  //     is released, which for the number box means on blur, so Enter blurs it.
  document.addEventListener("keydown", (event) => {
    const box = event.target;
    if (event.key !== "Enter" || !box.matches || !box.matches("input[type=number]")) return;
    if (!box.closest(".block")?.querySelector("input[type=range]")) return;
    event.preventDefault();
    box.blur();
  });

  // 3. Language: Gradio's i18n follows the browser; a ?lang= link or the buttons switch it.
  const relabelTabs = (lang) => {
    // Gradio translates a tab's label only once the tab has been shown; label the rest here.
    let labels = {};
    try { labels = JSON.parse($("#linked-ids")?.dataset.tabs || "{}"); } catch (err) { labels = {}; }
    for (const [id, names] of Object.entries(labels)) {
      const button = document.getElementById(`${id}-button`);
      if (button && names[lang]) button.textContent = names[lang];
    }
  };
  // The server draws figures and tables in the language this cookie names (ui/i18n.py).
  const tellServer = (lang) => { document.cookie = `triptych-lang=${lang}; path=/; SameSite=Lax`; };
  const setLanguage = async (lang, remember) => {
    tellServer(lang);
    const core = performance.getEntriesByType("resource").map((e) => e.name)
      .find((name) => /\/assets\/core-[^/]*\.js$/.test(name));
    if (!core) return;
    try {
      const module = await import(core);
      if (typeof module.changeLocale === "function") module.changeLocale(lang);
      document.documentElement.lang = lang;
      relabelTabs(lang);
      if (remember) localStorage.setItem("triptych-lang", lang);
    } catch (err) {
      console.warn("language switch failed", err);
    }
  };
  const query = new URLSearchParams(location.search);
  const startLang = query.get("lang") || localStorage.getItem("triptych-lang");
  const code = (lang) => (String(lang).toLowerCase().startsWith("zh") ? "zh" : "en");
  tellServer(code(startLang || navigator.language || "en"));
  if (startLang) setLanguage(code(startLang), false);

  // 4. Lecture mode (large type, controls folded away) and the controls switch inside it. The
  //    figures' own text grows with the page's (Plotly sizes it in the figure, not in CSS).
  const LECTURE_FONT = 18;
  const scaleFigures = () => {
    const size = document.body.classList.contains("lecture") ? LECTURE_FONT : null;
    document.querySelectorAll(".js-plotly-plot").forEach((plot) => {
      if (!plot.layout || typeof window.Plotly?.relayout !== "function") return;
      if (plot.__triptychBase === undefined) plot.__triptychBase = (plot.layout.font && plot.layout.font.size) || 14;
      const wanted = size || plot.__triptychBase;
      if (plot.layout.font && plot.layout.font.size === wanted) return;
      window.Plotly.relayout(plot, { "font.size": wanted });
    });
  };
  const setLecture = (on) => { document.body.classList.toggle("lecture", on); scaleFigures(); };
  if (query.get("lecture") === "1") setLecture(true);

  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("button");
    if (!button) return;
    if (button.id === "lecture-toggle") setLecture(!document.body.classList.contains("lecture"));
    if (button.id === "controls-toggle") document.body.classList.toggle("show-controls");
    if (button.classList.contains("lang-btn")) setLanguage(button.dataset.lang, true).then(runShown);  // redrawn in it
    if (button.id === "copy-link") {
      const done = () => { button.dataset.copied = "1"; setTimeout(() => delete button.dataset.copied, 1500); };
      (navigator.clipboard ? navigator.clipboard.writeText(location.href) : Promise.reject())
        .then(done, () => window.prompt("Link to this view", location.href));
    }
  });

  // 5. Deep links. The server restores a link's values on load (and a scenario's when picked)
  //    and changes #restored; then the tab is opened, which runs its view with those values.
  const readValue = (root) => {
    const radios = root.querySelectorAll("input[type=radio]");
    if (radios.length) return [...radios].find((r) => r.checked)?.value ?? null;
    const box = root.querySelector("input[type=checkbox]");
    if (box) return box.checked ? "1" : "0";
    const number = root.querySelector("input[type=number]");
    if (number) return number.value;
    const field = root.querySelector("textarea, input");
    return field ? field.value : null;
  };
  const activeTab = () => {
    const button = $("button[role=tab][aria-selected=true]");
    return button ? button.id.replace(/^tab-/, "").replace(/-button$/, "") : "compare";
  };
  let lastRestore = "";
  let lastTab = "";
  // Gradio's own "busy" toast (a full queue) is written in the browser, in English only.
  const translateBusy = () => {
    for (const text of document.querySelectorAll(".toast-text, .toast-message-text")) {
      if (text.textContent.includes("currently busy") && !text.querySelector(".busy-zh")) {
        const zh = document.createElement("div");
        zh.className = "busy-zh";
        zh.textContent = "服务器正忙（排队已满），请稍后再试。";
        text.appendChild(zh);
      }
    }
  };
  const tick = () => {
    translateBusy();
    const restored = $("#restored textarea, #restored input");
    if (restored && restored.value && restored.value !== lastRestore) {
      lastRestore = restored.value;
      let state = {};
      try { state = JSON.parse(restored.value); } catch (err) { state = {}; }
      // The linked tab runs its views when it is opened; Compare only when it is the one shown.
      if (state.tab && state.tab !== "compare") {
        compareSeen = -1;
        press(`tab-${state.tab}-button`);
      } else runCompare();
      if (state.tab === "decoding" && state.step) setTimeout(() => press("dec-goto"), 200);
    }
    const tab = activeTab();
    document.body.dataset.tab = tab;
    if (document.body.classList.contains("lecture")) scaleFigures();
    if (tab !== lastTab) {
      lastTab = tab;
      if (tab === "compare" && lastRestore && compareSeen !== edited) runCompare();
      const box = $("#current-tab textarea, #current-tab input");
      if (box) {
        box.value = tab;
        box.dispatchEvent(new Event("input", { bubbles: true }));
      }
    }
    if (!lastRestore) return;  // do not rewrite a link before it has been restored
    let ids = [];
    try { ids = JSON.parse($("#linked-ids")?.dataset.ids || "[]"); } catch (err) { ids = []; }
    const panel = $(`#tab-${tab}`);
    const params = new URLSearchParams();
    params.set("tab", tab);
    for (const id of ids) {
      const element = document.getElementById(id);
      // The page's texts belong to every tab; text B only when there is one.
      const page = id === "text" || id === "text-b";
      if (!element || (!page && !(panel && panel.contains(element)))) continue;
      const value = readValue(element);
      if (id === "text-b" && !value) continue;
      if (value !== null && value !== undefined) params.set(id, value);
    }
    const lang = localStorage.getItem("triptych-lang") || query.get("lang");
    if (lang) params.set("lang", lang);
    if (document.body.classList.contains("lecture")) params.set("lecture", "1");
    const next = `${location.pathname}?${params.toString()}`;
    if (next !== `${location.pathname}${location.search}`) history.replaceState(null, "", next);
  };
  setInterval(tick, 400);
}
