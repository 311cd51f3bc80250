// The GraphQL client: the pasted token lives in sessionStorage and goes out as a bearer token.

const TOKEN_KEY = "downline.token";

export class AuthError extends Error {}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string | null,
  ) {
    super(message);
  }

  /** The server has no such field yet: the view shows what exists and says what is missing. */
  get absent(): boolean {
    return /Cannot query field|Unknown argument|Unknown type/.test(this.message);
  }
}

interface GraphQLResponse<T> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string } }[];
}

export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token: string | null): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export interface Claims {
  role: string;
  sub?: string;
  exp?: number;
}

/** The token's claims, read (not verified: the server does that) to pick the first view. */
export function claims(token: string | null): Claims | null {
  const payload = token?.split(".")[1];
  if (!payload) return null;
  try {
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    const parsed = JSON.parse(json) as Claims;
    return typeof parsed.role === "string" ? parsed : null;
  } catch {
    return null;
  }
}

export async function gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const token = getToken();
  if (!token) throw new AuthError("not logged in");
  let response: Response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "application/json",
        authorization: `Bearer ${token}`,
      },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError("the server cannot be reached", "UNAVAILABLE");
  }
  if (response.status === 401) throw new AuthError("the token is invalid or has expired");
  let body: GraphQLResponse<T>;
  try {
    body = (await response.json()) as GraphQLResponse<T>;
  } catch {
    throw new ApiError(`the server answered ${response.status}`, null);
  }
  const first = body.errors?.[0];
  if (first) throw new ApiError(first.message, first.extensions?.code ?? null);
  if (!body.data) throw new ApiError("empty answer", null);
  return body.data;
}
