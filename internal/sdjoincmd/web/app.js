// The sdjoin web page: the members, services and events of the agent
// that serves it, kept live through /v1/events (Server-Sent Events: the
// current state replayed as joins, then every change). Every string from
// the network goes into the page as text (textContent, title), never as
// markup. URLs are relative: the page also works behind a proxy that
// serves it under a path.
'use strict';
(() => {
  const MAX_EVENTS = 200;
  const POLL_MS = 5000;
  const $ = (id) => document.getElementById(id);
  const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

  // The state of the current connection, rebuilt from its replay.
  let members = new Map(); // node -> member record (member-join)
  let entries = new Map(); // entry key -> entry record (join)
  // What the page showed before this connection's replay: replayed joins
  // of it are not logged again. Seeded from /v1/services and /v1/members
  // on load, from the previous connection on a reconnect.
  let known = { members: new Map(), entries: new Map() };
  let knownTimer = 0;
  // From the periodic GET /v1/members and /v1/services: this agent's own
  // member (the stream leaves it out), member states, check states.
  let self = null;
  let memberInfo = new Map();
  let entryInfo = new Map();
  const log = []; // oldest first, at most MAX_EVENTS
  let filter = '';
  const sorts = { members: { key: 'node', dir: 1 }, services: { key: 'service', dir: 1 } };

  const str = (v) => (typeof v === 'string' ? v : '');

  // norm keeps the fields the page uses, as strings, whatever came in.
  function norm(r) {
    const meta = r.meta && typeof r.meta === 'object' ? r.meta : {};
    const metaText = Object.keys(meta).sort().map((k) => k + '=' + str(meta[k])).join(' ');
    const checks = Array.isArray(r.checks) ? r.checks.filter((c) => c && typeof c === 'object') : [];
    return {
      event: str(r.event), service: str(r.service), key: str(r.key), node: str(r.node),
      addr: str(r.addr), prev: str(r.prev_node), local: r.local === true, state: str(r.state),
      meta: metaText, checks: checks.map((c) => ({ check: str(c.check), state: str(c.state), output: str(c.output) })),
    };
  }

  const entryKey = (r) => JSON.stringify([r.service, r.node, r.key]);
  const sameEntry = (a, b) => a !== undefined && a.addr === b.addr && a.meta === b.meta;
  const sameMember = (a, b) => a !== undefined && a.addr === b.addr;

  // apply updates the state with one event of the stream and logs it.
  // A record without the names its event needs is dropped.
  function apply(r) {
    if (r.node === '' || (r.event === 'join' || r.event === 'leave') && r.service === '') return;
    switch (r.event) {
      case 'join': {
        const k = entryKey(r);
        entries.set(k, r);
        if (sameEntry(known.entries.get(k), r)) known.entries.delete(k);
        else addLog(r);
        break;
      }
      case 'leave':
        entries.delete(entryKey(r));
        known.entries.delete(entryKey(r));
        addLog(r);
        break;
      case 'member-join':
        members.set(r.node, r);
        if (sameMember(known.members.get(r.node), r)) known.members.delete(r.node);
        else addLog(r);
        break;
      case 'member-leave':
        members.delete(r.node);
        known.members.delete(r.node);
        addLog(r);
        break;
      case 'rename': // the joins and leaves that come with it update the tables
        addLog(r);
        break;
      default:
        return;
    }
    schedule();
  }

  function addLog(r) {
    log.push({ time: new Date(), r });
    if (log.length > MAX_EVENTS) log.shift();
  }

  // getJSON returns the array at path, or null.
  async function getJSON(path) {
    try {
      const resp = await fetch(path, { cache: 'no-store', headers: { Accept: 'application/json' } });
      if (!resp.ok) return null;
      const v = await resp.json();
      return Array.isArray(v) ? v.filter((r) => r && typeof r === 'object').map(norm) : null;
    } catch (e) {
      return null;
    }
  }

  let polling = false;

  // poll refreshes what only the request API has: this agent's member,
  // member states, and this agent's entries with their check states
  // (withdrawn ones included).
  async function poll() {
    if (polling) return;
    polling = true;
    const [ms, ss] = await Promise.all([getJSON('v1/members'), getJSON('v1/services?local=true')]);
    polling = false;
    if (ms) {
      memberInfo = new Map(ms.map((m) => [m.node, m]));
      self = ms.find((m) => m.local) || null;
    }
    if (ss) entryInfo = new Map(ss.map((e) => [entryKey(e), e]));
    schedule();
  }

  // forgetKnown logs as left what the replay did not show again (it went
  // while the page was not connected): the replay comes at once, so it is
  // over by then.
  function forgetKnown() {
    for (const e of known.entries.values()) addLog({ ...e, event: 'leave' });
    for (const m of known.members.values()) addLog({ ...m, event: 'member-leave' });
    known = { members: new Map(), entries: new Map() };
    schedule();
  }

  let es = null;
  let opened = false;
  let backoff = 1000;

  function connect() {
    es = new EventSource('v1/events');
    es.onopen = () => {
      if (opened) {
        known = { members, entries };
        addLog({ event: 'reconnected', service: '', node: '', addr: '', prev: '', meta: '' });
      }
      opened = true;
      backoff = 1000;
      members = new Map();
      entries = new Map();
      clearTimeout(knownTimer);
      knownTimer = setTimeout(forgetKnown, 2000);
      setStatus('live', 'live');
      poll();
    };
    es.onmessage = (m) => {
      let r;
      try {
        r = JSON.parse(m.data);
      } catch (e) {
        return;
      }
      if (r && typeof r === 'object') apply(norm(r));
    };
    es.onerror = () => {
      setStatus('down', 'disconnected: reconnecting…');
      if (es.readyState === EventSource.CLOSED) {
        es.close();
        setTimeout(connect, backoff);
        backoff = Math.min(backoff * 2, 30000);
      }
    };
  }

  function setStatus(state, text) {
    const s = $('status');
    s.dataset.state = state;
    s.textContent = text;
    document.body.classList.toggle('stale', state !== 'live');
  }

  // Rendering, coalesced: events come in bursts (the replay).
  let pending = false;
  function schedule() {
    if (pending) return;
    pending = true;
    setTimeout(render, 30);
  }

  function render() {
    pending = false;
    renderMembers();
    renderServices();
    renderEvents();
    if (self) {
      $('agent').textContent = self.node;
      document.title = 'sdjoin ' + self.node;
    }
  }

  const matches = (...fields) => filter === '' || fields.some((f) => f.toLowerCase().includes(filter));

  function byColumn(sort, ...then) {
    return (a, b) => {
      let c = collator.compare(a[sort.key], b[sort.key]) * sort.dir;
      for (const k of then) c = c || collator.compare(a[k], b[k]);
      return c;
    };
  }

  function cell(text, className) {
    const td = document.createElement('td');
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  function row(cells, data) {
    const tr = document.createElement('tr');
    Object.assign(tr.dataset, data);
    tr.append(...cells);
    return tr;
  }

  function emptyRow(cols, text) {
    const td = cell(text, 'empty');
    td.colSpan = cols;
    return row([td], {});
  }

  // fill shows rows in table and their count in its heading: "(N)", or
  // "(N of TOTAL)" when the filter hides some; extra follows it.
  function fill(table, rows, cols, total, extra = '') {
    const tbody = $(table).tBodies[0];
    const none = total === 0 ? 'none yet' : 'nothing matches the filter';
    tbody.replaceChildren(...(rows.length ? rows : [emptyRow(cols, none)]));
    const n = rows.length === total ? `${total}` : `${rows.length} of ${total}`;
    $(table + '-count').textContent = `(${n}${extra})`;
  }

  function allMembers() {
    const list = [...members.values()];
    if (self && !members.has(self.node)) list.push(self);
    return list.map((m) => {
      const info = memberInfo.get(m.node);
      return { ...m, local: m.local || (self !== null && m.node === self.node), state: (info && info.state) || m.state || 'alive' };
    });
  }

  function renderMembers() {
    const all = allMembers();
    const shown = all.filter((m) => matches(m.node, m.addr, m.state)).sort(byColumn(sorts.members, 'node'));
    fill('members', shown.map((m) => {
      const node = cell(m.node);
      if (m.local) {
        const tag = document.createElement('span');
        tag.className = 'tag';
        tag.textContent = ' (this agent)';
        node.append(tag);
      }
      return row([node, cell(m.addr, 'addr'), cell(m.state, 'state-' + m.state)], { node: m.node });
    }), 3, all.length);
  }

  // allEntries returns the advertised entries with their check state,
  // and this agent's entries its checks withdrew.
  function allEntries() {
    const list = [...entries.entries()].map(([k, e]) => {
      const info = entryInfo.get(k);
      return info ? { ...e, state: info.state, checks: info.checks } : e;
    });
    for (const [k, e] of entryInfo) {
      if (!entries.has(k) && e.state && e.state !== 'passing') list.push({ ...e, addr: e.addr || (self ? self.addr : ''), withdrawn: true });
    }
    return list;
  }

  function checksCell(e) {
    if (!e.state) return cell('–', 'empty');
    const td = cell(e.withdrawn ? e.state + ' (not advertised)' : e.state, 'state-' + e.state);
    td.title = e.checks.map((c) => `${c.state} ${c.check}${c.output ? ': ' + c.output : ''}`).join('\n');
    return td;
  }

  function renderServices() {
    const all = allEntries();
    const shown = all.filter((e) => matches(e.service, e.node, e.addr, e.meta, e.state)).sort(byColumn(sorts.services, 'service', 'node', 'key'));
    let prev = null;
    fill('services', shown.map((e) => {
      const svc = cell(e.service);
      if (sorts.services.key === 'service' && e.service === prev) svc.className = 'again';
      prev = e.service;
      return row([svc, cell(e.node), cell(e.addr, 'addr'), cell(e.meta, 'mono'), checksCell(e)], { service: e.service, node: e.node });
    }), 5, all.length, ` providers, ${plural(new Set(all.map((e) => e.service)).size, 'service')}`);
  }

  const plural = (n, what) => `${n} ${what}${n === 1 ? '' : 's'}`;

  function detail(r) {
    switch (r.event) {
      case 'join': return (r.addr + ' ' + r.meta).trim();
      case 'member-join': return r.addr;
      case 'rename': return r.prev + ' → ' + r.node;
      default: return '';
    }
  }

  function renderEvents() {
    const shown = [];
    for (let i = log.length - 1; i >= 0; i--) {
      const { time, r } = log[i];
      if (!matches(r.event, r.service, r.node, r.prev, r.addr, r.meta)) continue;
      shown.push(row([cell(time.toLocaleTimeString(), 'time'), cell(r.event, 'ev-' + r.event),
        cell(r.service), cell(r.node), cell(detail(r), 'mono')], { event: r.event }));
    }
    fill('events', shown, 5, log.length);
  }

  function setupSort(table) {
    for (const th of $(table).tHead.rows[0].cells) {
      th.querySelector('button').addEventListener('click', () => {
        const s = sorts[table];
        s.dir = s.key === th.dataset.sort ? -s.dir : 1;
        s.key = th.dataset.sort;
        for (const o of th.parentElement.cells) o.removeAttribute('aria-sort');
        th.setAttribute('aria-sort', s.dir > 0 ? 'ascending' : 'descending');
        render();
      });
    }
  }

  async function start() {
    setupSort('members');
    setupSort('services');
    $('filter').addEventListener('input', (ev) => {
      filter = ev.target.value.trim().toLowerCase();
      render();
    });
    const [ms, ss] = await Promise.all([getJSON('v1/members'), getJSON('v1/services')]);
    if (ms) known.members = new Map(ms.filter((m) => !m.local).map((m) => [m.node, m]));
    if (ss) known.entries = new Map(ss.map((e) => [entryKey(e), e]));
    setInterval(poll, POLL_MS);
    connect();
  }

  start();
})();
