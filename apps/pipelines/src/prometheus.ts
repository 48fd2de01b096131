/**
 * A pipeline's metrics in Prometheus text: the core's per-stage families, plus the
 * counters only a pipeline run knows (flow drops, retries, items skipped with an error).
 *
 * @module
 */
import { renameSync, writeFileSync } from 'node:fs';
import type { PipelineMetrics } from '@rwkv-streams/core';
import type { BuiltStage } from './build.js';

const PREFIX = 'rwkv_streams';

const label = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/** The registry's text (`toPrometheus()`) followed by the run's own counter families. */
export function pipelinePrometheus(registry: PipelineMetrics, stages: readonly BuiltStage[]): string {
  const lines: string[] = [];
  const family = (name: string, help: string, value: (s: BuiltStage) => number) => {
    lines.push(`# HELP ${PREFIX}_${name} ${help}`, `# TYPE ${PREFIX}_${name} counter`);
    for (const s of stages) lines.push(`${PREFIX}_${name}{stage="${label(s.name)}"} ${value(s)}`);
  };
  family('stage_flow_dropped_total', 'Items the stage flow limit dropped.', (s) => s.counters.flowDropped);
  family('stage_retries_total', 'Attempts after the first, over all items.', (s) => s.counters.retries);
  family('stage_item_errors_total', 'Records with an error (items skipped).', (s) => s.counters.errors);
  return `${registry.toPrometheus(PREFIX)}${lines.join('\n')}\n`;
}

/** Writes the text whole (a temporary file renamed over it: a scraper never reads half a file). */
export function writeMetricsFile(path: string, text: string): void {
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, text);
  renameSync(temporary, path);
}
