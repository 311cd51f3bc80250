// The growth team's dashboard: log in with a token, then the leaderboard, a member, the platform.

import { AuthError, claims, getToken, gql, setToken } from "./api";
import { h, replace } from "./dom";
import { auditView } from "./audit";
import { financeView } from "./finance";
import { leaderboardView } from "./leaderboard";
import { memberView } from "./member";
import { platformView } from "./platform";
import { previewView } from "./preview";
import { riskView } from "./risk";
import "./style.css";
import { onWindowChange, windowPicker } from "./window";

type Reloadable = HTMLElement & { reload?: () => void };

const app = document.getElementById("app") as HTMLElement;
let current: Reloadable | null = null;
const main = h("main", {});

function handleError(e: unknown): void {
  if (e instanceof AuthError) {
    setToken(null);
    showLogin(e.message);
  }
}

function showLogin(message?: string): void {
  const input = h("textarea", {
    name: "token",
    rows: 4,
    placeholder: "eyJhbGciOiJIUzI1NiIs…",
    "aria-label": "token",
    "data-testid": "token",
    required: true,
  });
  const status = h("p", { class: message ? "error" : "muted" }, message ?? "");
  const form = h(
    "form",
    { class: "login card", "data-testid": "login" },
    h("h1", {}, "Downline"),
    h("p", {}, "Paste a bearer token for the API (", h("code", {}, "downline token --role analyst"), ")."),
    input,
    h("button", { type: "submit" }, "Log in"),
    status,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const token = input.value.trim().replace(/^Bearer\s+/i, "");
    setToken(token);
    replace(status, "Checking…");
    status.className = "muted";
    gql<{ __typename: string }>("query Check { __typename }")
      .then(() => showApp())
      .catch((e: unknown) => {
        setToken(null);
        replace(status, (e as Error).message);
        status.className = "error";
      });
  });
  replace(app, form);
  input.focus();
}

function route(): void {
  const token = getToken();
  if (!token) {
    showLogin();
    return;
  }
  const who = claims(token);
  const hash = decodeURIComponent(location.hash.replace(/^#\/?/, ""));
  const [page = "", ...rest] = hash.split("/");
  const memberId = rest.join("/");
  let view: Reloadable;
  if (page === "member" && memberId) view = memberView(memberId, handleError);
  else if (page === "platform") view = platformView(handleError);
  else if (page === "finance") view = financeView(handleError);
  else if (page === "audit") view = auditView(handleError);
  else if (page === "preview") view = previewView(handleError);
  else if (page === "risk") view = riskView(handleError);
  else if (page === "" && who?.role === "member" && who.sub) view = memberView(who.sub, handleError);
  else view = leaderboardView(handleError);
  current = view;
  for (const link of app.querySelectorAll<HTMLAnchorElement>("nav.tabs a")) {
    const target = link.getAttribute("href")?.replace(/^#\/?/, "") ?? "";
    link.classList.toggle("active", target === page || (target === "" && page === ""));
  }
  replace(main, view);
}

function showApp(): void {
  const who = claims(getToken());
  const search = h("input", {
    type: "search",
    placeholder: "Member id",
    "aria-label": "member id",
    "data-testid": "member-search",
  });
  const header = h(
    "header",
    {},
    h("h1", {}, "Downline ", h("span", { class: "muted" }, "growth dashboard")),
    h(
      "nav",
      { class: "tabs" },
      h("a", { href: "#/" }, "Key nodes"),
      h("a", { href: "#/platform" }, "Platform"),
      h("a", { href: "#/finance" }, "Finance"),
      h("a", { href: "#/audit" }, "Audit"),
      h("a", { href: "#/preview" }, "Preview"),
      h("a", { href: "#/risk" }, "Risk"),
    ),
    h(
      "form",
      {
        class: "search",
        onsubmit: (e: Event) => {
          e.preventDefault();
          const id = search.value.trim();
          if (id) location.hash = `#/member/${encodeURIComponent(id)}`;
        },
      },
      search,
    ),
    windowPicker(),
    h("span", { class: "who muted" }, who ? who.role + (who.sub ? ` ${who.sub}` : "") : ""),
    h(
      "button",
      {
        class: "link",
        onclick: () => {
          setToken(null);
          history.replaceState(null, "", location.pathname);
          showLogin();
        },
      },
      "Log out",
    ),
  );
  replace(app, header, main);
  route();
}

window.addEventListener("hashchange", () => {
  if (getToken()) route();
});
onWindowChange(() => current?.reload?.());

if (getToken()) showApp();
else showLogin();
