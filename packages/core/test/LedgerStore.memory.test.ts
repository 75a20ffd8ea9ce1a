import { Ledger } from "../src/index.ts"
import * as LedgerStoreTest from "./LedgerStoreTest.ts"

LedgerStoreTest.suite("LedgerStore (memory)", Ledger.layerMemory)
