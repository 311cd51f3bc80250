// Monthly charts on uPlot: bars for volumes, lines for counts over time.

import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { h } from "./dom";

export interface Series {
  label: string;
  values: (number | null)[];
  color: string;
  bars?: boolean;
  format?: (value: number) => string;
}

/** `months` are YYYY-MM-01 dates; each series has one value per month. */
export function monthlyChart(months: string[], series: Series[], height = 220): HTMLElement {
  const box = h("div", { class: "chart" });
  const xs = months.map((m) => Date.parse(`${m}T00:00:00+08:00`) / 1000);
  const bars = uPlot.paths.bars?.({ size: [0.6, 48], align: 0 });
  const first = series[0];
  const options: uPlot.Options = {
    width: 640,
    height,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Asia/Shanghai"),
    legend: { show: true },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true } },
    axes: [
      { values: (_u, ticks) => ticks.map((t) => monthLabel(t)) },
      {
        size: 70,
        values: (_u, ticks) => ticks.map((t) => (first?.format ? first.format(t) : String(t))),
      },
    ],
    series: [
      { value: (_u, t) => (t === null ? "" : monthLabel(t)) },
      ...series.map((s) => ({
        label: s.label,
        stroke: s.color,
        fill: s.bars ? s.color + "99" : undefined,
        width: s.bars ? 1 : 2,
        points: { show: !s.bars },
        paths: s.bars ? bars : undefined,
        value: (_u: uPlot, v: number | null) =>
          v === null ? "–" : s.format ? s.format(v) : v.toLocaleString("en-US"),
      })),
    ],
  };
  const data: uPlot.AlignedData = [xs, ...series.map((s) => s.values)];
  const plot = new uPlot(options, data, box);
  new ResizeObserver(() => {
    const width = box.clientWidth;
    if (width > 0 && width !== plot.width) plot.setSize({ width, height });
  }).observe(box);
  return box;
}

function monthLabel(seconds: number): string {
  return new Date(seconds * 1000 + 8 * 3_600_000).toISOString().slice(0, 7);
}

/** A horizontal bar for a table cell: share of the largest value in the column. */
export function bar(value: number, max: number): HTMLElement {
  const width = max > 0 ? Math.max(0, Math.min(100, (value / max) * 100)) : 0;
  return h("span", { class: "bar", style: `width:${width.toFixed(1)}%` });
}
