// A public portal page (门户 · 政府信息公开目录) on the generated types: list the published documents of an organ page by
// page with the pagination contract ({items, next_cursor, has_more, total}, `after` for the next page), show each
// coded value by its label (zh / en), and switch on the problem `code` of an error.
//
// scripts/check_ts_client.sh generates ./schema.d.ts from the merged OpenAPI document and compiles this file with
// `tsc --strict --noEmit`: a field the API stops sending, a renamed label or a problem code an operation no longer
// answers breaks the build here before it breaks a portal.

import type { components, operations } from "./schema";

type Schemas = components["schemas"];
type SearchOperation = operations["catalog-search_documents"];
export type SearchQuery = NonNullable<SearchOperation["parameters"]["query"]>;
export type SearchPage = SearchOperation["responses"][200]["content"]["application/json"];
export type DocumentHit = Schemas["DocumentSearchHit"];
export type PublicDocument = operations["catalog-get_document"]["responses"][200]["content"]["application/json"];
export type Term = Schemas["Term"];
export type Lang = "zh" | "en";

/** The problem+json body of a failed call of operation `Op`, with `code` narrowed to what that operation answers. */
export type ProblemOf<Op> = Op extends { responses: infer R }
  ? { [S in keyof R]: S extends 200 | 201 | 202 | 204 | 304 ? never
      : R[S] extends { content: { "application/problem+json": infer P } } ? P : never }[keyof R]
  : never;

export class ApiProblem<P extends { code: string; detail: string; status: number }> extends Error {
  constructor(readonly problem: P) {
    super(problem.detail);
  }
}

async function getJson<T, P extends { code: string; detail: string; status: number }>(url: URL): Promise<T> {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  if (!response.ok) {
    throw new ApiProblem<P>((await response.json()) as P);
  }
  return (await response.json()) as T;
}

/** Every page of a search, following `next_cursor` while `has_more` (never building a cursor ourselves). */
export async function* searchPages(base: string, query: SearchQuery): AsyncGenerator<SearchPage> {
  let after: string | null = null;
  do {
    const url = new URL("/api/v1/catalog/documents", base);
    for (const [name, value] of Object.entries(query)) {
      if (value !== null && value !== undefined && name !== "after") url.searchParams.set(name, String(value));
    }
    if (after !== null) url.searchParams.set("after", after);
    const page: SearchPage = await getJson<SearchPage, ProblemOf<SearchOperation>>(url);
    yield page;
    after = page.has_more ? page.next_cursor : null;
  } while (after !== null);
}

export function label(term: Term | null, lang: Lang): string {
  return term === null ? "—" : `${term[lang]}`;
}

/** One row of the list: title, 文号, 发布机关 by its code, and the labelled 主题分类 / 体裁 / 效力 (validity is always set). */
export function row(hit: DocumentHit, lang: Lang): string {
  const cells: string[] = [
    hit.title,
    hit.doc_number ?? "",
    `${hit.organ_name} (${hit.organ_code})`,
    label(hit.subject_category_label, lang),
    label(hit.genre_label, lang),
    hit.validity_label[lang],
    hit.published_at === null ? "" : new Date(hit.published_at).toLocaleDateString(lang === "zh" ? "zh-CN" : "en"),
  ];
  return `<tr>${cells.map((cell) => `<td>${cell}</td>`).join("")}</tr>`;
}

/** The page: a table of an organ's published documents, with the total from the first page. */
export async function organPage(base: string, organCode: string, lang: Lang): Promise<string> {
  const rows: string[] = [];
  let total = 0;
  for await (const page of searchPages(base, { organ: organCode, sort: "date", limit: 50 })) {
    total = Math.max(total, page.total);
    rows.push(...page.items.map((hit) => row(hit, lang)));
  }
  const caption = lang === "zh" ? `共 ${total} 件` : `${total} documents`;
  return `<table><caption>${caption}</caption>${rows.join("")}</table>`;
}

/** The detail page's heading; an unknown document is the problem code `document_not_found`, not a status guess. */
export async function documentHeading(base: string, documentId: string, lang: Lang): Promise<string> {
  type Problem = ProblemOf<operations["catalog-get_document"]>;
  try {
    const url = new URL(`/api/v1/catalog/documents/${encodeURIComponent(documentId)}`, base);
    const doc = await getJson<PublicDocument, Problem>(url);
    const labels = doc.key_area_labels.map((term) => term[lang]).join(" / ");
    // 联合发文: the co-issuing organs by code; links both ways (修订 / 废止 / 解读) to public records only.
    const issuers = [doc.organ_name, ...doc.co_issuers.map((organ) => organ.name)].join("、");
    const links = [...doc.amended_by, ...doc.repealed_by, ...doc.interpreted_by]
      .map((linked) => `<li><a href="${linked.url}">${linked.title}</a> ${linked.doc_number ?? ""}</li>`);
    const files = doc.attachments.map((file) => `<li><a href="${file.url}">${file.filename}</a></li>`);
    return `<h1>${doc.title}</h1><p>${issuers} · ${label(doc.genre_label, lang)} · ${labels}</p>`
      + `<ul>${links.join("")}</ul><ul>${files.join("")}</ul>`;
  } catch (error) {
    if (error instanceof ApiProblem) {
      const problem = (error as ApiProblem<Problem>).problem;
      switch (problem.code) {
        case "document_not_found":
          return lang === "zh" ? "<h1>未找到该文件</h1>" : "<h1>Not found</h1>";
        case "too_many_requests":
          return lang === "zh" ? "<h1>请求过于频繁，请稍后再试</h1>" : "<h1>Too many requests</h1>";
        // @ts-expect-error — the public read never answers lookup_locked (the tracking door's): the enum says so
        case "lookup_locked":
          break;
      }
    }
    throw error;
  }
}
