import { Ledger } from "../src/index.ts"
import * as LedgerStoreTest from "./LedgerStoreTest.ts"

// The conformance suite on the memory store (retention included: see its "retention" block).
LedgerStoreTest.suite("LedgerStore (memory)", Ledger.layerMemory)
