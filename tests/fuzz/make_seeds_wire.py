"""Writes fuzz seeds for the wire parsers: the coordinator's JSON request
bodies (seeds/wire_coord: advert, evaluations, cross-site key and results),
what a node parses (seeds/wire_node: work items of every state, the
cross-site key list, error bodies), node configs (seeds/node_config) and
base64/hex text (seeds/b64, first byte the cap / 16). Valid messages and
near misses (a field of the wrong type, out of range, one past a cap)."""
import base64, json, os, random

here = os.path.dirname(os.path.abspath(__file__))
rnd = random.Random(7)
def rb(n): return bytes(rnd.randrange(256) for _ in range(n))
def hx(n): return rb(n).hex()
def b64(n): return base64.b64encode(rb(n)).decode()

def write(target, seeds):
    out = os.path.join(here, 'seeds', target)
    os.makedirs(out, exist_ok=True)
    for name, data in seeds.items():
        if not isinstance(data, (bytes, str)): data = json.dumps(data, separators=(',', ':'))
        if isinstance(data, str): data = data.encode()
        with open(os.path.join(out, name), 'wb') as f:
            f.write(data)

metrics = {'subject_mean': {'rmse': 1.33, 'mae': 0.9, 'r2': 0.819}, 'pooled': {'rmse': 1.4}, 'n_subjects': 3}
val = {'global': metrics, 'local': metrics, 'train_loss': 0.25}
coord = {
    'advert_secure': {'attempt': 1, 'n_samples': 120, 'val': val, 'advert': b64(300)},
    'advert_plain': {'attempt': 2, 'n_samples': 1, 'val': val},
    'advert_noval': {'attempt': 1, 'n_samples': 100000000, 'advert': b64(30)},
    'advert_bad_attempt': {'attempt': 1.5, 'n_samples': 120, 'advert': 'AAAA'},
    'advert_bad_val': {'attempt': 1, 'n_samples': 120, 'val': [1], 'advert': 'A==='},
    'advert_dup': '{"attempt":1,"attempt":2,"n_samples":3}',
    'evaluations': {'model_version': 3, 'results': [
        {'cohort': 'healthy-holdout', 'norm': 'own', 'metrics': metrics},
        {'cohort': 'onfh', 'norm': 'pooled', 'metrics': metrics}]},
    'evaluations_bad_item': {'model_version': 3, 'results': [{'cohort': '../x', 'norm': 'own', 'metrics': {}},
                                                             {'cohort': 'a', 'norm': 'mine', 'metrics': 1}]},
    'evaluations_65': {'model_version': 1, 'results': [{}] * 65},
    'xeval_key': {'version': 4, 'pk': hx(32), 'cert': b64(600), 'sig': hx(64), 'share': True},
    'xeval_key_upper': {'version': 4, 'pk': hx(32).upper(), 'cert': b64(1), 'sig': hx(64).upper(), 'share': False},
    'xeval_key_bad': {'version': 4, 'pk': hx(31) + 'zz', 'cert': 'A', 'sig': hx(63), 'share': 1},
    'xeval_results': {'version': 4, 'results': [{'model': 'global', 'metrics': metrics},
                                                {'model': 'optical-lab', 'metrics': metrics}]},
    'xeval_results_bad': {'version': 4, 'results': [{'model': 'global', 'metrics': {'subject_mean': 1}},
                                                    {'model': None, 'metrics': metrics}]},
    'not_object': '[1,2,3]',
    'truncated': '{"attempt":',
}
# aggregates only (coordinator/wire_metrics.c): the schema's every field, and per-subject rows
stats = {'rmse': 1.33, 'mae': 0.9, 'r2': None}
agg = {'n_cycles': 12, 'n_subjects': 3, 'frames': 180, 'channels': 14, 'subject_mean': stats, 'pooled': stats,
       'per_cadence': {'med': {'n_cycles': 8, 'n_subjects': 3, 'subject_mean': stats, 'pooled': stats}},
       'per_channel': {'glmax_r': {'r2': 0.5, 'pearson_r': 0.7, 'nrmse': 0.1, 'rmse': 1.0, 'mae': 0.8}},
       'task': 'forces', 'units': 'N/kg'}
coord['xeval_results_aggregates'] = {'version': 4, 'results': [{'model': 'global', 'metrics': agg}]}
coord['xeval_results_per_subject'] = {'version': 4, 'results': [{'model': 'global', 'metrics': dict(
    agg, per_subject={'H07': {'n_cycles': 4, 'rmse': 1.0, 'mae': 0.5, 'r2': 0.9}})}]}
coord['advert_val_aggregates'] = {'attempt': 1, 'n_samples': 120, 'advert': 'AAAA', 'val': {
    'train_loss': 0.25, 'n_cycles': 12, 'n_subjects': 3, 'global': {'subject_mean': stats, 'pooled': stats},
    'local': {'subject_mean': stats, 'pooled': stats}}}
write('wire_coord', coord)

train = {'epochs': 1, 'lr': 1e-3, 'batch': 64, 'weight_decay': 1e-5, 'grad_clip': 0.5, 'mu': 0.0, 'seed': 7,
         'normalization': 'own', 'task': 'forces'}
secagg = {'round_id': 3 * 65536 + 1, 'nonce': hx(32), 'n': 4, 'k': 3, 't': 3, 'L': 332558, 'clip': 1.0,
          'scale': 268435456}
model = {'version': 2, 'sha256': hx(32), 'bytes': 1332640}
def item(state, **kw):
    w = {'state': state, 'round': 3, 'attempt': 1, 'retry_after_ms': 200, 'secure_aggregation': True}
    w.update(kw)
    return w
keys = {'version': 1, 'keys': [{'site': s, 'pk': hx(32), 'cert': b64(500), 'sig': hx(64), 'share': i % 2 == 0}
                               for i, s in enumerate(['imu-clinic', 'optical-lab', 'video-clinic'])]}
node = {
    'wait': item('wait'),
    'done': item('done'),
    'train': item('train', index=2, deadline_ms=1795000000000, model=model, train=train, secagg=secagg),
    'train_plain': item('train', secure_aggregation=False, index=1, model=model,
                        train=dict(train, task='moments', mu=0.01, normalization='global')),
    'statistics': item('train', statistics=True, index=1, model=model, train=dict(train, normalization='global'),
                       secagg=dict(secagg, L=84, clip=65535, scale=1)),
    'shares': item('shares', index=4, model=model, train=train, secagg=secagg),
    'evaluate': item('evaluate', model=model),
    'xeval': item('xeval_evaluate', model=model, xeval={'version': 2, 'normalization': 'own',
                                                        'senders': ['imu-clinic', 'optical-lab']}),
    'xeval_key': item('xeval_key', model=model, xeval={'version': 2, 'normalization': 'global', 'senders': []}),
    'near_wrap': item('train', index=4, model=model, train=train,
                      secagg=dict(secagg, n=4294967300, L=4294967296 + 332558)),
    'near_train': item('train', index=1, model=dict(model, bytes=0),
                       train=dict(train, grad_clip=1e300, mu=1e39, lr=10, epochs=10001)),
    'near_xeval': item('xeval_evaluate', model=model, xeval={'normalization': 'own', 'senders': ['ok', '../etc']}),
    'keys': keys,
    'keys_empty': {'version': 1, 'keys': []},
    'keys_bad': {'version': 1, 'keys': [{'site': 'a', 'pk': hx(32), 'cert': '====', 'sig': hx(64)}]},
    'error': {'error': {'code': 'wrong_phase', 'message': 'advert: the advert phase is closed'}},
    'error_long': {'error': {'code': 'x' * 100, 'message': 'y' * 400}},
    'not_a_work_item': {'state': 1, 'round': -1},
}
write('wire_node', node)

hospital = {'name': 'optical-lab', 'role': 'hospital', 'coordinator_url': 'https://localhost:8443', 'key': 'node.key',
            'cert': 'node.crt', 'ca': 'ca.crt', 'crl': 'crl.pem', 'site_db': 'site.db', 'state_dir': 'state',
            'normalization': 'global', 'threads': 2, 'poll_ms': 500, 'backoff_max_ms': 30000,
            'http_timeout_s': 300, 'share_local_model': True}
evaluator = {'name': 'benchmark', 'role': 'evaluator', 'coordinator_url': 'https://coord.example:8443',
             'key': 'k', 'cert': 'c', 'ca': 'a', 'cohorts': [{'name': 'healthy', 'db': 'h.db'},
                                                             {'name': 'onfh', 'db': '/data/onfh.db'}]}
write('node_config', {
    'hospital': hospital,
    'hospital_min': {k: hospital[k] for k in ('name', 'role', 'coordinator_url', 'key', 'cert', 'ca', 'site_db')},
    'evaluator': evaluator,
    'evaluator_dup': dict(evaluator, cohorts=[{'name': 'a', 'db': 'x'}, {'name': 'a', 'db': 'y'}]),
    'bad_url': dict(hospital, coordinator_url='http://x'),
    'bad_threads': dict(hospital, threads=0, poll_ms=1e9),
    'unknown_field': dict(hospital, extra=1),
})

write('b64', {
    'b64': b'\x40' + base64.b64encode(rb(100)),
    'b64_pad1': b'\x10' + base64.b64encode(rb(8)),
    'b64_pad2': b'\x10' + base64.b64encode(rb(7)),
    'b64_noncanon': b'\x01AB==',
    'b64_bad': b'\x01A=A=',
    'hex': b'\x02' + hx(32).encode(),
    'hex_upper': b'\x02' + hx(64).upper().encode(),
})

# Site store damage scripts for fuzz_store: (table, column, row, kind, len,
# payload) records, or 'F' and (u16 LE offset, byte) file patches; empty: the
# valid store as made.
import struct
def rec(table, col, row, kind, ln, payload=b''):
    return bytes([table, col, row, kind, ln]) + payload
write('store', {
    'valid': b'',
    'x_short': rec(4, 4, 0, 4, 0xf3),
    'x_nan': rec(4, 4, 1, 4, 0xf0, b'\x00\x00\xc0\x7f'),
    'ym_int': rec(4, 6, 2, 1, 8, struct.pack('<q', 12345)),
    'speed': rec(3, 2, 0, 3, 4, b'warp'),
    'weight_zero': rec(2, 3, 0, 2, 8, struct.pack('<d', 0.0)),
    'height_nan': rec(2, 2, 1, 2, 8, struct.pack('<d', float('nan'))),
    'trial_zero': rec(3, 3, 1, 1, 8, struct.pack('<q', 0)),
    'subject_gone': rec(2, 0, 0, 5, 0),
    'channel_renamed': rec(1, 3, 0, 3, 5, b'knee_'),
    'xstats_neg': rec(5, 4, 0, 2, 8, struct.pack('<d', -1.0)),
    'file_header': b'F' + bytes([16, 0, 0x00, 17, 0, 0x03, 100, 0, 0xff]),
})

# Audit chain edits for fuzz_audit: (table 0 audit | 1 audit_head, column,
# row, kind 0 set | 1 delete | 2 copy under a new seq, len, payload).
write('audit', {
    'intact': b'',
    'edit_detail': rec(0, 3, 3, 0, 2, b'{}'),
    'edit_time': rec(0, 1, 2, 0, 1, b'\x07'),
    'upper_hash': rec(0, 5, 1, 0, 4, b'ABCD'),
    'delete_last': rec(0, 0, 4, 1, 0),
    'delete_middle': rec(0, 0, 2, 1, 0),
    'delete_all': rec(0, 0, 1, 1, 0) + rec(0, 0, 2, 1, 0) + rec(0, 0, 3, 1, 0) + rec(0, 0, 4, 1, 0) + rec(1, 0, 1, 1, 0),
    'append_copy': rec(0, 0, 4, 2, 1, b'\x05'),
    'head_seq': rec(1, 1, 1, 0, 1, b'\x03'),
    'head_gone': rec(1, 0, 1, 1, 0),
})
