// The chart's monitoring parts, rendered by helm and checked by promtool, Prometheus' own
// tool: the ServiceMonitor and its Service, the Grafana dashboard ConfigMap, and the
// PrometheusRule, whose two alerts are also run against series by `promtool test rules`.
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { renderChart, type ChartDoc } from '../../helpers/chart.js';
import { goTool } from '../../helpers/go-tools.js';
import { ROOT, tempDir } from '../../helpers/processes.js';

type Doc = ChartDoc & { spec?: Record<string, unknown> };
const render = (...set: string[]) => renderChart(...set) as Doc[];
const ofKind = (docs: Doc[], kind: string) => docs.filter((d) => d.kind === kind);
const ALL_ON = ['metrics.serviceMonitor.enabled=true', 'metrics.prometheusRule.enabled=true'];

function promtool(args: string[], files: Record<string, string>): { code: number | null; out: string } {
  const dir = tempDir();
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const r = spawnSync(goTool('promtool'), args, { cwd: dir, encoding: 'utf8' });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

type Rule = { alert: string; annotations: Record<string, string> };
const ruleSpec = () =>
  ofKind(render(...ALL_ON), 'PrometheusRule')[0]?.spec as { groups: Array<{ rules: Rule[] }> };
const rulesFile = (): string => stringify(ruleSpec());
/** The annotations of `alert` as Prometheus fills them in for a `value`. */
function annotations(alert: string, value: string): Record<string, string> {
  const rule = ruleSpec()
    .groups.flatMap((g) => g.rules)
    .find((r) => r.alert === alert) as Rule;
  const fill = (t: string) => t.replace(/\{\{ \$value[^}]*\}\}/g, value);
  return Object.fromEntries(Object.entries(rule.annotations).map(([k, v]) => [k, fill(v)]));
}

describe('the chart, for Prometheus and Grafana', () => {
  it('renders no Prometheus Operator objects unless asked (their CRDs may not exist)', () => {
    const docs = render();
    expect(ofKind(docs, 'ServiceMonitor')).toEqual([]);
    expect(ofKind(docs, 'PrometheusRule')).toEqual([]);
  });

  it('scrapes the operator through a Service and a ServiceMonitor on its metrics port', () => {
    const docs = render(...ALL_ON, 'metrics.serviceMonitor.labels.release=kps');
    const [svc] = ofKind(docs, 'Service');
    const [sm] = ofKind(docs, 'ServiceMonitor');
    const [deploy] = ofKind(docs, 'Deployment');
    const pod = (deploy?.spec as { template: { metadata: { labels: Record<string, string> } } }).template;
    expect(svc?.spec).toMatchObject({ ports: [{ name: 'metrics', port: 8080, targetPort: 'metrics' }] });
    // The Service selects the operator's pods; the ServiceMonitor selects the Service.
    for (const [k, v] of Object.entries(svc?.spec?.selector as object))
      expect(pod.metadata.labels[k]).toBe(v);
    const wanted = (sm?.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels;
    for (const [k, v] of Object.entries(wanted)) expect(svc?.metadata.labels?.[k]).toBe(v);
    expect(sm?.spec).toMatchObject({ endpoints: [{ port: 'metrics', path: '/metrics', interval: '30s' }] });
    expect(sm?.metadata.labels?.release).toBe('kps');
  });

  it("ships the dashboard as a ConfigMap with Grafana's sidecar label, its JSON intact", () => {
    const [cm] = ofKind(render(), 'ConfigMap').filter((c) => c.metadata.name.endsWith('-dashboard'));
    expect(cm?.metadata.labels?.grafana_dashboard).toBe('1');
    const file = readFileSync(join(ROOT, 'charts/peapods/dashboards/peapods.json'), 'utf8');
    expect(JSON.parse(cm?.data?.['peapods.json'] as string)).toEqual(JSON.parse(file));
  });

  it('passes promtool check rules', () => {
    const r = promtool(['check', 'rules', 'rules.yaml'], { 'rules.yaml': rulesFile() });
    expect(r.out).toMatch(/SUCCESS: 2 rules found/);
    expect(r.code).toBe(0);
  });

  it('fires each alert on the series it is about, and not before its "for"', () => {
    const tests = {
      rule_files: ['rules.yaml'],
      evaluation_interval: '1m',
      tests: [
        {
          interval: '1m',
          input_series: [
            { series: 'peapods_peas_starting_overdue{job="peapods"}', values: '0 0 1x10' },
            {
              series: 'controller_runtime_reconcile_errors_total{controller="pea",job="peapods"}',
              values: '0+0x5 0+3x20',
            },
          ],
          alert_rule_test: [
            { eval_time: '5m', alertname: 'PeapodsPeasStuckStarting', exp_alerts: [] },
            {
              eval_time: '8m',
              alertname: 'PeapodsPeasStuckStarting',
              exp_alerts: [
                {
                  exp_labels: { severity: 'warning' },
                  exp_annotations: annotations('PeapodsPeasStuckStarting', '1'),
                },
              ],
            },
            { eval_time: '10m', alertname: 'PeapodsReconcileErrors', exp_alerts: [] },
            {
              eval_time: '20m',
              alertname: 'PeapodsReconcileErrors',
              // 3 errors a minute: 0.05 a second.
              exp_alerts: [
                {
                  exp_labels: { severity: 'warning' },
                  exp_annotations: annotations('PeapodsReconcileErrors', '0.05'),
                },
              ],
            },
          ],
        },
      ],
    };
    const r = promtool(['test', 'rules', 'tests.yaml'], {
      'rules.yaml': rulesFile(),
      'tests.yaml': stringify(tests),
    });
    expect(r.out).toMatch(/SUCCESS/);
    expect(r.code).toBe(0);
  });
});
