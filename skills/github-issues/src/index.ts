// Reads GitHub issues with the operator's token. The skill writes the placeholder
// {{secret:GITHUB_TOKEN}}; the host puts the token in after its net guard said yes, and only for
// https://api.github.com (requires.secrets.GITHUB_TOKEN.allow). The skill never holds the token:
// should GitHub echo it back, the skill would read [REDACTED].
import { fetchJson, type Commands } from '@agentos/skills/guest';

const API = 'https://api.github.com';
const HEADERS = {
  authorization: 'Bearer {{secret:GITHUB_TOKEN}}',
  accept: 'application/vnd.github+json',
  'x-github-api-version': '2022-11-28',
};

interface Issue {
  number: number;
  title: string;
  state: string;
  user?: { login?: string } | null;
  labels?: ({ name?: string } | string)[];
  body?: string | null;
  html_url?: string;
  pull_request?: unknown;
}

const brief = (i: Issue) => ({
  number: i.number,
  title: i.title,
  state: i.state,
  author: i.user?.login ?? null,
  labels: (i.labels ?? []).map((l) => (typeof l === 'string' ? l : (l.name ?? ''))),
  url: i.html_url ?? null,
});

export const commands = {
  list(args: { repo: string; limit?: number }) {
    const perPage = args.limit ?? 20;
    const issues = fetchJson(`${API}/repos/${args.repo}/issues?state=open&per_page=${perPage}`, { headers: HEADERS }) as Issue[];
    // The issues endpoint lists pull requests too.
    return issues.filter((i) => !i.pull_request).map(brief);
  },
  get(args: { repo: string; number: number }) {
    const issue = fetchJson(`${API}/repos/${args.repo}/issues/${args.number}`, { headers: HEADERS }) as Issue;
    return { ...brief(issue), body: issue.body ?? '' };
  },
} satisfies Commands;
