#!/usr/bin/env node
/**
 * The `timebox` binary.
 *
 * @since 0.1.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import { Effect } from "effect"
import { exitOnSecondInterrupt, main, teardown } from "./Cli.ts"

main.pipe(exitOnSecondInterrupt, Effect.provide(NodeServices.layer), NodeRuntime.runMain({ teardown }))
