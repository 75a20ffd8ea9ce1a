import { Ledger } from "../src/index.ts"
import * as LedgerProperty from "./LedgerProperty.ts"

LedgerProperty.suite("LedgerStore (memory) properties", Ledger.layerMemory)
