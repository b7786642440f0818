// The availability grid of the poll page: the viewer's dates as columns, their times of day
// as rows, one button per cell. Painting: a pointer (mouse, finger, pen) paints the rectangle
// from where it went down to where it is; the keyboard moves a roving tab stop with the arrow
// keys and toggles with Space or Enter. The page decides what a paint means (`onPaint`).

/** Make an element with attributes and children (text or nodes); no HTML is ever parsed. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

export const fmt = (options) => new Intl.DateTimeFormat([], options);
const shortDay = fmt({ weekday: "short", day: "numeric", month: "short", timeZone: "UTC" });
const longDay = fmt({ weekday: "long", day: "numeric", month: "long", timeZone: "UTC" });
const dateOf = (isoDate) => new Date(`${isoDate}T12:00:00Z`); // a viewer's date, as a label
const minutes = (hhmm) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
const cellOf = (node) => node?.closest?.("button[data-start]") ?? null;
const MOVES = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };

export class Grid {
  /** `canPaint()`: may the viewer paint now; `adds(start)`: does painting there add it. */
  constructor(table, detail, { canPaint, adds, onPaint }) {
    Object.assign(this, { table, detail, canPaint, adds, onPaint });
    this.buttons = new Map(); // cell start -> its button
    this.pos = new Map(); // cell start -> {r, c}
    this.cellAt = []; // [row][column] -> cell start or null
    this.drag = null;
    this.previewed = [];
    this.detailCell = null;
    table.addEventListener("pointerdown", (e) => this._down(e));
    table.addEventListener("pointermove", (e) => this._move(e));
    table.addEventListener("pointerup", (e) => this._end(e));
    table.addEventListener("pointercancel", (e) => this._end(e));
    table.addEventListener("keydown", (e) => this._key(e));
    table.addEventListener("focusin", (e) => this._focused(e));
    table.addEventListener("pointerover", (e) => this._detail(cellOf(e.target)));
  }

  /** Lay out `days` ([{date, cells}] in the viewer's zone `tz`) as columns of rows. */
  build(days, tz, slotMinutes) {
    this.days = days;
    this.slotMinutes = slotMinutes;
    this.time = fmt({ hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: tz });
    const placed = days.map((day) => {
      const taken = new Set();
      return day.cells.map((start) => {
        let key = this.time.format(new Date(start));
        while (taken.has(key)) key += "′"; // a repeated hour of the viewer's own DST fold
        taken.add(key);
        return { start, key };
      });
    });
    this.rows = [...new Set(placed.flat().map((cell) => cell.key))].sort();
    const rowOf = new Map(this.rows.map((key, r) => [key, r]));
    this.cellAt = this.rows.map(() => days.map(() => null));
    this.pos = new Map();
    placed.forEach((cells, c) => cells.forEach(({ start, key }) => {
      this.cellAt[rowOf.get(key)][c] = start;
      this.pos.set(start, { r: rowOf.get(key), c });
    }));
    this.buttons = new Map();
    this.table.replaceChildren(this._head(), this._body());
    const first = this.buttons.values().next().value;
    if (first) first.tabIndex = 0;
  }

  /** Name a cell for people: "Tuesday 3 March, 10:00 to 10:30" (its date as the viewer's). */
  when(start) {
    const end = new Date(Date.parse(start) + this.slotMinutes * 60000);
    const day = longDay.format(dateOf(this.days[this.pos.get(start).c].date));
    return `${day}, ${this.time.format(new Date(start))} to ${this.time.format(end)}`;
  }

  /** Show a cell's state: heat level 0..5, the viewer's tier (or null), its label and tip. */
  show(start, { heat, mine, label, tip, editable }) {
    const button = this.buttons.get(start);
    button.dataset.heat = String(heat);
    if (mine) button.dataset.mine = mine;
    else delete button.dataset.mine;
    if (editable) button.setAttribute("aria-pressed", String(Boolean(mine)));
    else button.removeAttribute("aria-pressed");
    if (editable) button.removeAttribute("aria-disabled");
    else button.setAttribute("aria-disabled", "true");
    button.setAttribute("aria-label", label);
    button.title = tip;
  }

  /** Refresh the line under the grid that tells about the hovered or focused cell. */
  refreshDetail() {
    if (this.detailCell?.isConnected) this._detail(this.detailCell);
  }

  _head() {
    const row = el("tr", {}, el("th", { scope: "col", class: "corner" }, ""));
    for (const day of this.days) {
      const [weekday, ...rest] = shortDay.format(dateOf(day.date)).split(" ");
      const label = longDay.format(dateOf(day.date));
      const parts = [el("span", {}, weekday.replace(",", "")), el("span", {}, rest.join(" "))];
      row.append(el("th", { scope: "col", "aria-label": label }, ...parts));
    }
    return el("thead", {}, row);
  }

  _body() {
    const body = el("tbody");
    this.rows.forEach((key, r) => {
      const gap = r > 0 && minutes(key) - minutes(this.rows[r - 1]) > this.slotMinutes;
      const row = el("tr", gap ? { class: "break" } : {}, el("th", { scope: "row" }, key));
      this.days.forEach((_, c) => row.append(this._cell(this.cellAt[r][c])));
      body.append(row);
    });
    return body;
  }

  _cell(start) {
    if (!start) return el("td", { class: "gap", "aria-hidden": "true" });
    const button = el("button", { type: "button", tabindex: "-1", "data-start": start });
    this.buttons.set(start, button);
    return el("td", {}, button);
  }

  _rectangle({ anchor, to }) {
    const cells = [];
    for (let r = Math.min(anchor.r, to.r); r <= Math.max(anchor.r, to.r); r++) {
      for (let c = Math.min(anchor.c, to.c); c <= Math.max(anchor.c, to.c); c++) {
        if (this.cellAt[r][c]) cells.push(this.cellAt[r][c]);
      }
    }
    return cells;
  }

  _preview() {
    for (const button of this.previewed) button.classList.remove("adding", "erasing");
    this.previewed = this.drag ? this._rectangle(this.drag).map((s) => this.buttons.get(s)) : [];
    for (const button of this.previewed) button.classList.add(this.drag.add ? "adding" : "erasing");
  }

  _down(event) {
    const button = cellOf(event.target);
    if (!button || !this.canPaint() || event.button !== 0) return;
    event.preventDefault(); // no text selection, no emulated mouse events
    button.focus();
    const at = this.pos.get(button.dataset.start);
    this.drag = { anchor: at, to: at, add: this.adds(button.dataset.start), id: event.pointerId };
    // Moves go to the grid whatever is under the finger; elementFromPoint finds the cell.
    this.table.setPointerCapture(event.pointerId);
    this._preview();
  }

  _move(event) {
    if (!this.drag || event.pointerId !== this.drag.id) return;
    const button = cellOf(document.elementFromPoint(event.clientX, event.clientY));
    if (!button) return;
    this.drag.to = this.pos.get(button.dataset.start);
    this._preview();
  }

  _end(event) {
    if (!this.drag || event.pointerId !== this.drag.id) return;
    const { add } = this.drag;
    const cells = event.type === "pointerup" ? this._rectangle(this.drag) : [];
    this.drag = null;
    this._preview();
    if (cells.length) this.onPaint(cells, add);
  }

  _key(event) {
    const button = cellOf(event.target);
    if (!button) return;
    if (MOVES[event.key]) {
      event.preventDefault();
      const next = this._step(this.pos.get(button.dataset.start), ...MOVES[event.key]);
      if (next) this.buttons.get(next).focus();
    } else if (event.key === " " || event.key === "Enter") {
      event.preventDefault(); // and so no click follows
      const start = button.dataset.start;
      if (this.canPaint()) this.onPaint([start], this.adds(start));
    }
  }

  _step({ r, c }, dr, dc) {
    for (let i = 1; ; i++) {
      const row = this.cellAt[r + dr * i];
      if (!row || c + dc * i < 0 || c + dc * i >= row.length) return null;
      if (row[c + dc * i]) return row[c + dc * i];
    }
  }

  _focused(event) {
    const button = cellOf(event.target);
    if (!button) return;
    for (const other of this.buttons.values()) if (other.tabIndex === 0) other.tabIndex = -1;
    button.tabIndex = 0; // Tab leaves the grid and comes back to this cell
    this._detail(button);
  }

  _detail(button) {
    if (!button) return;
    this.detailCell = button;
    this.detail.textContent = button.getAttribute("aria-label");
  }
}
