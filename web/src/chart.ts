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
  /** A second y axis on the right, for a series of another size (e.g. a running total). */
  right?: boolean;
}

/** `days` are YYYY-MM-DD starts of months (or of weeks); one value per series and day. */
export function timeChart(
  days: string[],
  series: Series[],
  { height = 220, unit = "month" }: { height?: number; unit?: "month" | "week" } = {},
): HTMLElement {
  const box = h("div", { class: "chart" });
  const xs = days.map((d) => Date.parse(`${d}T00:00:00+08:00`) / 1000);
  const half = unit === "month" ? 15 * 86_400 : 3.5 * 86_400;
  const label = unit === "month" ? monthLabel : dayLabel;
  const step = Math.max(1, Math.ceil(xs.length / 12));
  const counts = { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 1e5, 1e6] };
  const bars = uPlot.paths.bars?.({ size: [0.6, 48], align: 0 });
  const first = series[0];
  const right = series.find((s) => s.right);
  const options: uPlot.Options = {
    width: 640,
    height,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Asia/Shanghai"),
    legend: { show: true },
    cursor: { drag: { x: false, y: false } },
    scales: {
      // Half a month either side, so the first and last bars are whole.
      x: { time: true, range: (_u, min, max) => [min - half, max + half] },
    },
    axes: [
      // One tick per bar, thinned to about a dozen labels.
      {
        font: "11px system-ui, sans-serif",
        splits: () => xs.filter((_, i) => i % step === 0),
        values: (_u, ticks) => ticks.map(label),
      },
      {
        size: 70,
        ...(first?.format ? {} : counts),
        values: (_u, ticks) => ticks.map((t) => (first?.format ? first.format(t) : String(t))),
      },
      ...(right
        ? [
            {
              scale: "y2",
              side: 1,
              size: 60,
              grid: { show: false },
              ...(right.format ? {} : counts),
              stroke: right.color,
              values: (_u: uPlot, ticks: number[]) =>
                ticks.map((t) => (right.format ? right.format(t) : String(t))),
            },
          ]
        : []),
    ],
    series: [
      { label: unit === "month" ? "Month" : "Week of", value: (_u, t) => (t === null ? "" : label(t)) },
      ...series.map((s) => ({
        label: s.label,
        scale: s.right ? "y2" : "y",
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
    const width = box.clientWidth - 12;
    if (width > 0 && width !== plot.width) plot.setSize({ width, height });
  }).observe(box);
  return box;
}

function dayLabel(seconds: number): string {
  return new Date(seconds * 1000 + 8 * 3_600_000).toISOString().slice(0, 10);
}

function monthLabel(seconds: number): string {
  return dayLabel(seconds).slice(0, 7);
}

/** A horizontal bar for a table cell: share of the largest value in the column. */
export function bar(value: number, max: number): HTMLElement {
  const width = max > 0 ? Math.max(0, Math.min(100, (value / max) * 100)) : 0;
  return h("span", { class: "bar", style: `width:${width.toFixed(1)}%` });
}
