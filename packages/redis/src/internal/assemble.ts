/**
 * How a ledger script's Lua is put together: its body, after the prelude
 * declarations it needs (`preludeFor`), or, for the batched scripts, after a
 * lazy prelude (`lazyPrelude`) whose declarations for failures, large
 * amounts and JSON are created only when a call first touches them.
 *
 * @internal
 */
import { hotLua } from "./hot.ts"
import { preludeLua } from "./prelude.ts"

/** One top-level declaration of the prelude: the names it declares and its text. */
interface Block {
  readonly names: ReadonlyArray<string>
  readonly text: string
}

const declaration =
  /^local (?:function ([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*(?:, *[A-Za-z_][A-Za-z0-9_]*)*) *=)/
const identifier = /[A-Za-z_][A-Za-z0-9_]*/g
/** Lua comments (to the end of the line; no prelude string holds `--`). */
const comments = /--[^\n]*/g

/** The prelude cut at its top-level `local` declarations (column 0); top-level comments are dropped. */
const blocks: ReadonlyArray<Block> = (() => {
  const found: Array<{ names: Array<string>; lines: Array<string> }> = []
  for (const line of `${preludeLua}\n${hotLua}`.split("\n")) {
    const match = declaration.exec(line)
    if (match !== null) {
      found.push({ names: (match[1] ?? match[2] ?? "").split(",").map((name) => name.trim()), lines: [line] })
    } else if (!line.startsWith("--") && line.trim() !== "" && found.length > 0) {
      found.at(-1)!.lines.push(line)
    }
  }
  return found.map(({ lines, names }) => ({ names, text: lines.join("\n") }))
})()

/**
 * The prelude declarations `body` needs, directly or through each other, in
 * prelude order, then `body`: a script runs its whole text on every call,
 * so it carries only what it uses.
 *
 * @internal
 */
export const preludeFor = (body: string): string => withBlocks(neededBlocks(body), body)

/** `body` after the text of the `prelude` blocks. */
const withBlocks = (prelude: ReadonlyArray<Block>, body: string): string =>
  `${prelude.map((block) => block.text).join("\n")}\n${body}`

/** The prelude blocks `body` needs (see `preludeFor`), in prelude order. */
const neededBlocks = (body: string): ReadonlyArray<Block> => {
  const declaredBy = new Map<string, Block>()
  for (const block of blocks) for (const name of block.names) declaredBy.set(name, block)
  const needed = new Set<Block>()
  const visit = (text: string) => {
    // a name in a comment is no reference
    for (const [name] of text.replace(comments, "").matchAll(identifier)) {
      const block = declaredBy.get(name)
      if (block !== undefined && !needed.has(block)) {
        needed.add(block)
        visit(block.text)
      }
    }
  }
  visit(body)
  return blocks.filter((block) => needed.has(block))
}

/**
 * What the batched scripts' answers that succeed use on every call, with
 * the batch's state (`HOT_*`); the rest of their prelude is for failures,
 * amounts of 10^15 and more, and JSON (`lazyPrelude`).
 */
const hotNames: ReadonlySet<string> = new Set([
  "P",
  "TAB",
  "TENANT",
  "AMOUNT_BASE",
  "AMT_SMALL",
  "MAX_EXTENSIONS",
  "BUDGET",
  "budget_text",
  "num",
  "amt_parse",
  "amt_neg",
  "reservation_key",
  "mask_scopes",
  "HOT_TERMS",
  "hot_budget",
  "hot_touch",
  "hot_set",
  "hot_add",
  "hot_push",
  "hot_flush",
  "hot_snapshots",
  "hot_scoped",
  "hot_check",
  "hot_next_sequence",
  "hot_next_sequence_s",
  "hot_prefetch",
  "hot_recall",
  "hot_remember",
  "hot_reservation",
  "hot_settleable",
  "hot_reservation_budgets",
  "hot_missing_budget",
  "hot_finish",
  "hot_batch"
])

/** `text` with Lua comments and string literals blanked (same length), to look for names in. */
const codeOf = (text: string): string =>
  text.replace(/--[^\n]*|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'/g, (match) => " ".repeat(match.length))

/**
 * Whether `code` declares, takes as a parameter, loops over, defines as a
 * function or assigns `name` (alone or in a list: `a, name = …`, over lines
 * too), so that it cannot be read as a field. Errs on the side of yes.
 */
const bindsName = (code: string, name: string): boolean =>
  new RegExp(
    `\\blocal\\s[^=\\n]*\\b${name}\\b|\\bfunction\\b[^(\\n]*\\([^)]*\\b${name}\\b|\\bfor\\s[^\\n]*\\b${name}\\b` +
      `|\\bfunction\\s+${name}\\b|(?<![\\w.:])${name}\\s*=(?!=)|(?<![\\w.:])${name}\\s*,[^=(]*=(?!=)`
  ).test(code)

/** A rewritten name written to (assigned or defined as a function): a lazy prelude must never hold one. */
const writesLazy = /\bfunction\s+LAZY\.|(?<![\w.:])LAZY\.\w+\s*(?:,|=(?!=))/

/**
 * The prelude of a batched script, made lazy: the declarations it needs
 * on every call (`hotNames`) as they are, the others inside one function
 * that runs the first time the script touches one of them (a table
 * `LAZY` with that function as its `__index`), with every use of them
 * outside it read as `LAZY.<name>`. A script runs its whole text on every
 * call, creating each local function and constant of its prelude; most of
 * them only serve failures, so an answer that succeeds no longer pays for
 * them. A name bound in the hot text (a local, a parameter, a loop
 * variable, an assignment) stays hot, so no rewrite can change its meaning.
 * Answers the script's whole text, as `preludeFor` does.
 *
 * @internal
 */
export const lazyPrelude = (body: string): string => {
  const needed = neededBlocks(body)
  const hot = new Set(
    needed.filter((block) => block.names.some((name) => hotNames.has(name) || name.startsWith("HOT_")))
  )
  const hotCode = () =>
    codeOf([...needed.filter((block) => hot.has(block)).map((block) => block.text), body].join("\n"))
  for (let changed = true; changed;) {
    changed = false
    const code = hotCode()
    for (const block of needed) {
      if (!hot.has(block) && block.names.some((name) => bindsName(code, name))) {
        hot.add(block)
        changed = true
      }
    }
  }
  const cold = needed.filter((block) => !hot.has(block))
  const plain = withBlocks(needed, body)
  if (cold.length === 0) return plain
  const lazyNames = cold.flatMap((block) => block.names)
  const lazyName = new RegExp(`(?<![\\w.:])(${lazyNames.join("|")})\\b`, "g")
  // rewrites the uses of lazy names in code, outside its comments and strings
  const rewrite = (text: string): string => {
    const code = codeOf(text)
    let out = ""
    let at = 0
    for (const match of code.matchAll(lazyName)) {
      out += `${text.slice(at, match.index)}LAZY.${match[1]}`
      at = match.index + match[1]!.length
    }
    return out + text.slice(at)
  }
  const hotText = [...needed.filter((block) => hot.has(block)).map((block) => rewrite(block.text)), rewrite(body)]
  // the checks above keep this from happening; should one miss, the script keeps its plain prelude
  if (hotText.some((text) => writesLazy.test(codeOf(text)))) return plain
  return [
    "local LAZY = {}",
    ...hotText.slice(0, -1),
    "setmetatable(LAZY, { __index = function(lazy, name)",
    ...cold.map((block) => block.text),
    ...lazyNames.map((name) => `lazy.${name} = ${name}`),
    // last: a load that fails (out of memory) is tried again at the next use
    "setmetatable(lazy, nil)",
    "return rawget(lazy, name)",
    "end })",
    hotText.at(-1)!
  ].join("\n")
}
