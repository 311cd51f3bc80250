// The whole platform: growth over time, payouts by tier and kind, the compliance figures.
// Each panel asks for its own fields, so a server without some of them still shows the rest.

import { ApiError, gql } from "./api";
import { h, replace } from "./dom";
import { payoutTable, type TierPayouts } from "./payouts";
import { getWindow } from "./window";

interface Panel {
  title: string;
  testid: string;
  load: () => Promise<HTMLElement>;
}

const PAYOUTS = `query PlatformPayouts($from: DateTime, $to: DateTime) {
  tierPayouts(from: $from, to: $to) { lines { tier kind amount count } total platformRetained }
}`;

const PANELS: Panel[] = [
  {
    title: "Payouts by tier and kind",
    testid: "platform-payouts",
    load: async () => {
      const w = getWindow();
      const data = await gql<{ tierPayouts: TierPayouts }>(PAYOUTS, { from: w.from, to: w.to });
      return payoutTable(data.tierPayouts);
    },
  },
];

export function platformView(onError: (e: unknown) => void): HTMLElement {
  const boxes = PANELS.map((p) => h("div", { "data-testid": p.testid }, "Loading…"));
  let generation = 0;
  function load(): void {
    const mine = ++generation;
    PANELS.forEach((panel, i) => {
      const box = boxes[i] as HTMLElement;
      box.setAttribute("aria-busy", "true");
      panel
        .load()
        .then((el) => {
          if (mine === generation) replace(box, el);
        })
        .catch((e: unknown) => {
          if (mine !== generation) return;
          if (e instanceof ApiError && e.absent) {
            replace(box, h("p", { class: "notice" }, "This server does not offer these figures yet."));
          } else if (e instanceof ApiError && e.code === "FORBIDDEN") {
            replace(box, h("p", { class: "notice" }, "Platform figures are for analysts and admins."));
          } else {
            replace(box, h("p", { class: "error" }, (e as Error).message));
            onError(e);
          }
        })
        .finally(() => box.removeAttribute("aria-busy"));
    });
  }
  load();
  const view = h(
    "section",
    { class: "view", "data-view": "platform" },
    h("h2", {}, "Platform"),
    ...PANELS.map((p, i) => [h("h3", {}, p.title), boxes[i]]),
  );
  (view as HTMLElement & { reload?: () => void }).reload = load;
  return view;
}
