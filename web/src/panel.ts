// A panel fills itself from one query; fields the server lacks show a notice, not an error.

import { ApiError } from "./api";
import { type Child, h, replace } from "./dom";

export function fill(
  box: HTMLElement,
  load: () => Promise<Child>,
  onError: (e: unknown) => void,
  isCurrent: () => boolean = () => true,
): void {
  box.setAttribute("aria-busy", "true");
  load()
    .then((el) => {
      if (!isCurrent()) return;
      replace(box, el);
      box.dataset.state = "ready";
    })
    .catch((e: unknown) => {
      if (!isCurrent()) return;
      if (e instanceof ApiError && e.absent) {
        replace(box, h("p", { class: "notice" }, "This server does not offer these figures yet."));
        box.dataset.state = "absent";
      } else if (e instanceof ApiError && e.code === "FORBIDDEN") {
        replace(box, h("p", { class: "notice" }, "These figures are for analysts and admins."));
        box.dataset.state = "forbidden";
      } else {
        replace(box, h("p", { class: "error" }, (e as Error).message));
        box.dataset.state = "error";
        onError(e);
      }
    })
    .finally(() => box.removeAttribute("aria-busy"));
}

export function stat(label: string, value: string, flagged = false): HTMLElement {
  return h(
    "div",
    { class: flagged ? "stat flag" : "stat" },
    h("div", { class: "stat-value" }, value),
    h("div", {}, label),
  );
}
