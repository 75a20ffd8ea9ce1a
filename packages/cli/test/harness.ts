// Runs the built `timebox` binary as a subprocess and collects what it printed.
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

export const root = fileURLToPath(new URL("../../..", import.meta.url))
export const bin = fileURLToPath(new URL("../dist/bin.js", import.meta.url))
export const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

export interface Outcome {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  /** The stdout chunks as they arrived, with the milliseconds since spawn. */
  readonly chunks: ReadonlyArray<{ readonly atMs: number; readonly text: string }>
  /** When each SIGINT was sent, and when the process exited (milliseconds since spawn). */
  readonly interruptsAtMs: ReadonlyArray<number>
  readonly exitedAtMs: number
}

export interface Options {
  readonly cwd?: string
  /** Variables to set; `undefined` removes one. NO_COLOR and FORCE_COLOR are removed unless given. */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** Send SIGINT once stderr contains this text. */
  readonly interruptOn?: string
  /** Send SIGINT `interruptDelayMs` (default 0) after stdout first contains this text. */
  readonly interruptOnStdout?: string
  readonly interruptDelayMs?: number
  /** Called just before the first SIGINT is sent. */
  readonly beforeInterrupt?: () => void
  /** Send a second SIGINT this long after the first. */
  readonly interruptAgainAfterMs?: number
}

/** Runs `node packages/cli/dist/bin.js …args` and resolves when it exits. */
export const timebox = (args: ReadonlyArray<string>, options: Options = {}): Promise<Outcome> =>
  new Promise((resolve, reject) => {
    const env: Record<string, string> = {}
    const overrides: Record<string, string | undefined> = {
      NO_COLOR: undefined,
      FORCE_COLOR: undefined,
      ...options.env
    }
    for (const [key, value] of Object.entries({ ...process.env, ...overrides })) {
      if (value !== undefined) env[key] = value
    }
    const child = spawn(process.execPath, [bin, ...args], { cwd: options.cwd ?? root, env, stdio: "pipe" })
    let stdout = ""
    let stderr = ""
    const chunks: Array<{ atMs: number; text: string }> = []
    const spawnedAt = performance.now()
    let interrupted = false
    const interruptsAtMs: Array<number> = []
    const interrupt = () => {
      options.beforeInterrupt?.()
      interruptsAtMs.push(performance.now() - spawnedAt)
      child.kill("SIGINT")
      if (options.interruptAgainAfterMs !== undefined) {
        setTimeout(() => {
          interruptsAtMs.push(performance.now() - spawnedAt)
          child.kill("SIGINT")
        }, options.interruptAgainAfterMs)
      }
    }
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk
      chunks.push({ atMs: performance.now() - spawnedAt, text: chunk })
      if (!interrupted && options.interruptOnStdout !== undefined && stdout.includes(options.interruptOnStdout)) {
        interrupted = true
        setTimeout(interrupt, options.interruptDelayMs ?? 0)
      }
    })
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk
      if (!interrupted && options.interruptOn !== undefined && stderr.includes(options.interruptOn)) {
        interrupted = true
        interrupt()
      }
    })
    child.on("error", reject)
    child.on(
      "close",
      (code, signal) =>
        resolve({ code, signal, stdout, stderr, chunks, interruptsAtMs, exitedAtMs: performance.now() - spawnedAt })
    )
  })

/** Memoizes `timebox` by arguments, for several tests reading one run. */
export const shared = (): (args: ReadonlyArray<string>, options?: Options) => Promise<Outcome> => {
  const runs = new Map<string, Promise<Outcome>>()
  return (args, options) => {
    const key = JSON.stringify([args, options])
    let run = runs.get(key)
    if (run === undefined) {
      run = timebox(args, options)
      runs.set(key, run)
    }
    return run
  }
}
