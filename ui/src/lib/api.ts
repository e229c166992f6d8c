// The only place the UI talks to the Rust side. Every command returns data or
// rejects with the core's `{code, message}` ApiError; anything else is wrapped
// so the UI never has to guess the shape of an error.
import { invoke } from "@tauri-apps/api/core";
import type { ApiError } from "./bindings/ApiError";
import type { OmeReport } from "./bindings/OmeReport";
import type { OmeRequest } from "./bindings/OmeRequest";
import type { ProductChoice } from "./bindings/ProductChoice";
import type { ReferenceInfo } from "./bindings/ReferenceInfo";

export function isApiError(value: unknown): value is ApiError {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as ApiError).code === "string" &&
    typeof (value as ApiError).message === "string"
  );
}

export function toApiError(value: unknown): ApiError {
  if (isApiError(value)) return value;
  const message =
    value instanceof Error ? value.message : typeof value === "string" ? value : JSON.stringify(value);
  return { code: "internal", message: message || "Unknown error" };
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (e) {
    throw toApiError(e);
  }
}

export const api = {
  referenceInfo: () => call<ReferenceInfo>("reference_info"),
  searchProducts: (query: string) => call<ProductChoice[]>("search_products", { query }),
  calculateOme: (request: OmeRequest) => call<OmeReport>("calculate_ome", { request }),
};
