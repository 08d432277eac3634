// The metric names a PromQL expression reads, of the multipod families (http_*, log_adapter_*,
// ambassador_*, content_sync_*), with a histogram's _bucket/_count/_sum suffix removed.
export function metricsIn(expr: string): string[] {
  const names = expr.match(/\b(?:http|log_adapter|ambassador|content_sync)_[a-z0-9_]+\b/g) ?? [];
  return [...new Set(names.map((n) => n.replace(/_(bucket|count|sum)$/, '')))];
}
