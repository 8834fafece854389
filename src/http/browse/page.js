// The browse page: repositories → charts (a page at a time, filtered by the server) →
// versions. Plain script, no dependencies. Every text that comes from a chart is set
// with textContent (never as HTML): chart metadata is whatever its uploader wrote.
'use strict';
(function () {
  const config = JSON.parse(document.getElementById('charthall-config').textContent);
  const context = config.contextPath || '';
  const PAGE = 50;          // charts per page
  const VERSIONS = 100;     // versions shown before "show all"
  const main = document.getElementById('main');
  const crumbs = document.getElementById('crumbs');
  let pending = null;       // the fetch of the view on screen, aborted when it changes

  // ---- small helpers --------------------------------------------------------------

  // el('a', {class: 'x', href: '#'}, child, 'text', …): an element; strings become text.
  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === 'text') node.textContent = value;
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? '' : value);
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(typeof child === 'string' ? document.createTextNode(child) : child);
    }
    return node;
  }

  function repoPath(repo) {
    return repo === '' ? '' : '/' + repo.split('/').map(encodeURIComponent).join('/');
  }
  function apiUrl(repo, rest) {
    return context + '/api' + repoPath(repo) + '/' + rest;
  }
  function repoUrl(repo) {
    return location.origin + context + repoPath(repo);
  }
  // The local name `helm repo add` gives the repository.
  function helmName(repo) {
    return repo === '' ? 'charthall' : repo.split('/').join('-');
  }
  function repoLabel(repo) {
    return repo === '' ? 'Default repository' : repo;
  }
  function link(params) {
    return '#' + new URLSearchParams(params).toString();
  }
  function number(n) {
    return n.toLocaleString('en-US');
  }
  function plural(n, one, many) {
    return number(n) + ' ' + (n === 1 ? one : many || one + 's');
  }
  function when(created) {
    const date = new Date(created);
    if (!created || isNaN(date)) return '';
    return date.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
  }
  function safeUrl(url) {
    return typeof url === 'string' && /^(https?:\/\/|data:image\/)/i.test(url.trim()) ? url.trim() : null;
  }

  async function getJson(url, signal) {
    const response = await fetch(url, { headers: { Accept: 'application/json' }, signal: signal });
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) {
      const message = body && body.error ? body.error : response.statusText;
      throw new Error(response.status + ': ' + message);
    }
    return body;
  }

  function fresh() {
    if (pending) pending.abort();
    pending = new AbortController();
    return pending.signal;
  }

  // Replaces what main shows; null parts are left out.
  function show(...parts) {
    main.replaceChildren(...parts.filter(function (part) { return part !== null && part !== undefined; }));
  }

  function setCrumbs(parts) {
    crumbs.replaceChildren();
    parts.forEach(function (part, i) {
      crumbs.append(el('span', { class: 'sep', 'aria-hidden': 'true', text: '/' }));
      crumbs.append(i === parts.length - 1 || !part.href
        ? el('span', { class: 'crumb current', text: part.text })
        : el('a', { class: 'crumb', href: part.href, text: part.text }));
    });
  }

  function setState(state, extra) {
    main.dataset.state = state;
    for (const [key, value] of Object.entries(extra || {})) main.dataset[key] = value;
  }

  function notice(kind, title, ...body) {
    return el('div', { class: 'notice ' + kind, role: kind === 'error' ? 'alert' : null },
      el('strong', { text: title }), ...body);
  }

  // A command line with a button that copies it.
  function command(text, label) {
    const code = el('code', { class: 'command-text', text: text });
    const button = el('button', { type: 'button', class: 'copy', title: 'Copy to clipboard', text: 'Copy' });
    button.addEventListener('click', function () { copy(text, code, button); });
    return el('div', { class: 'command' }, label ? el('span', { class: 'command-label', text: label }) : null,
      el('div', { class: 'command-line' }, el('span', { class: 'prompt', 'aria-hidden': 'true', text: '$' }), code, button));
  }

  function copy(text, code, button) {
    const done = function (ok) {
      button.textContent = ok ? 'Copied' : 'Select + copy';
      button.classList.toggle('done', ok);
      setTimeout(function () { button.textContent = 'Copy'; button.classList.remove('done'); }, 1500);
    };
    const fallback = function () {
      // Without a secure context there is no navigator.clipboard: select the text.
      const range = document.createRange();
      range.selectNodeContents(code);
      const selection = getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      let ok = false;
      try { ok = document.execCommand('copy'); } catch (e) { ok = false; }
      done(ok);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done(true); }, fallback);
    } else {
      fallback();
    }
  }

  // The chart's icon, or its initial when it has none or it does not load (offline).
  function icon(name, url, size) {
    const initial = el('span', { class: 'avatar ' + size, 'aria-hidden': 'true', text: (name[0] || '?').toUpperCase() });
    initial.dataset.hue = String([...name].reduce(function (h, c) { return (h * 31 + c.charCodeAt(0)) % 8; }, 7));
    const src = safeUrl(url);
    if (!src) return initial;
    const img = el('img', { class: 'icon ' + size, src: src, alt: '', loading: 'lazy', decoding: 'async', referrerpolicy: 'no-referrer' });
    img.addEventListener('error', function () { img.replaceWith(initial); });
    return img;
  }

  function apiOff() {
    return notice('warn', 'The chart browser is off on this server.',
      el('p', { text: 'It reads the JSON API, which this server does not serve (DISABLE_API). ' +
        'Helm still works: add a repository with the command below and use helm search repo.' }));
  }

  // ---- views ----------------------------------------------------------------------

  function showRepositories() {
    fresh();
    setCrumbs([{ text: 'Repositories' }]);
    const repos = config.repositories.map(function (r) { return r.name; });
    const charts = new Map(config.repositories.map(function (r) { return [r.name, r.charts]; }));
    const list = el('ul', { class: 'repo-list' });
    const status = el('p', { class: 'status', id: 'status' });
    const input = el('input', { type: 'search', id: 'repo-filter', class: 'filter', placeholder: 'Filter repositories',
      'aria-label': 'Filter repositories', autocomplete: 'off', spellcheck: 'false' });
    const draw = function () {
      const q = input.value.trim().toLowerCase();
      const matching = repos.filter(function (r) { return r.toLowerCase().includes(q); });
      list.replaceChildren(...matching.slice(0, PAGE * 2).map(function (repo) {
        return el('li', {},
          el('a', { class: 'repo', href: config.api ? link({ repo: repo }) : null },
            el('span', { class: 'repo-text' },
              el('span', { class: 'repo-name', text: repoLabel(repo) }),
              el('span', { class: 'repo-url', text: repoUrl(repo) })),
            el('span', { class: 'repo-count', text: plural(charts.get(repo), 'chart') })),
          config.api ? null : command('helm repo add ' + helmName(repo) + ' ' + repoUrl(repo)));
      }));
      status.textContent = q
        ? plural(matching.length, 'repository', 'repositories') + ' match'
        : plural(repos.length, 'repository', 'repositories');
      if (matching.length > PAGE * 2) status.textContent += ' (first ' + PAGE * 2 + ' shown; filter to find others)';
    };
    input.addEventListener('input', draw);
    draw();
    const body = repos.length === 0
      ? notice('info', 'No repositories yet.', el('p', { text: 'Upload a chart and its repository appears here:' }),
        command('curl --data-binary @mychart-0.1.0.tgz ' + location.origin + context + '/api/myrepo/charts'))
      : el('div', {}, repos.length > 8 ? input : null, list);
    show(el('div', { class: 'heading' }, el('h1', { text: 'Repositories' }), status),
      config.api ? null : apiOff(), body);
    setState('ready', { view: 'repositories' });
  }

  function showCharts(repo, params) {
    setCrumbs([{ text: 'Repositories', href: '#repos' }, { text: repoLabel(repo) }]);
    const add = command('helm repo add ' + helmName(repo) + ' ' + repoUrl(repo), 'Add this repository to Helm');
    if (!config.api) {
      fresh();
      show(el('div', { class: 'heading' }, el('h1', { text: repoLabel(repo) })), apiOff(), add);
      setState('ready', { view: 'charts' });
      return;
    }
    let q = params.get('q') || '';
    let offset = Math.max(0, parseInt(params.get('offset') || '0', 10) || 0);
    const input = el('input', { type: 'search', id: 'filter', class: 'filter', value: q, placeholder: 'Filter charts by name',
      'aria-label': 'Filter charts by name', autocomplete: 'off', spellcheck: 'false' });
    const status = el('p', { class: 'status', id: 'status', text: 'Loading…' });
    const list = el('ul', { class: 'chart-list', id: 'charts' });
    const prev = el('button', { type: 'button', class: 'page-button', id: 'prev', text: '← Previous' });
    const next = el('button', { type: 'button', class: 'page-button', id: 'next', text: 'Next →' });
    const where = el('span', { class: 'page-where', id: 'page-where' });
    const pager = el('div', { class: 'pager' }, prev, where, next);
    show(
      el('div', { class: 'heading' }, el('h1', { text: repoLabel(repo) }), status),
      add,
      el('div', { class: 'toolbar' }, input),
      list,
      pager);

    let timer = null;
    const remember = function () {
      const state = { repo: repo };
      if (q) state.q = q;
      if (offset) state.offset = offset;
      history.replaceState(null, '', link(state));
    };
    const load = async function () {
      const signal = fresh();
      setState('loading', { view: 'charts', query: q });
      const query = new URLSearchParams({ q: q, offset: offset, limit: PAGE });
      let page;
      try {
        page = await getJson(apiUrl(repo, 'summary?' + query), signal);
      } catch (e) {
        if (e.name === 'AbortError') return;
        list.replaceChildren();
        main.querySelector('.notice.error')?.remove();
        list.before(notice('error', 'Could not load the charts.', el('p', { text: e.message })));
        status.textContent = '';
        setState('error');
        return;
      }
      main.querySelector('.notice.error')?.remove();
      if (page.total > 0 && offset >= page.total) {   // a page past the end: go to the last one
        offset = Math.floor((page.total - 1) / PAGE) * PAGE;
        remember();
        return load();
      }
      list.replaceChildren(...page.charts.map(function (chart) { return chartRow(repo, chart); }));
      if (page.charts.length === 0) {
        list.append(el('li', { class: 'empty', text: q ? 'No chart name contains “' + q + '”.' : 'This repository has no charts yet.' }));
      }
      const first = page.total === 0 ? 0 : offset + 1;
      const last = offset + page.charts.length;
      status.textContent = q
        ? plural(page.total, 'chart') + ' match “' + q + '”'
        : plural(page.total, 'chart');
      where.textContent = page.total > PAGE ? number(first) + '–' + number(last) + ' of ' + number(page.total) : '';
      prev.disabled = offset === 0;
      next.disabled = last >= page.total;
      pager.hidden = page.total <= PAGE;
      setState('ready', { view: 'charts', query: q, total: page.total, offset: offset });
    };
    input.addEventListener('input', function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        q = input.value.trim();
        offset = 0;
        remember();
        load();
      }, 150);
    });
    prev.addEventListener('click', function () { offset = Math.max(0, offset - PAGE); remember(); load(); main.scrollIntoView(); });
    next.addEventListener('click', function () { offset += PAGE; remember(); load(); main.scrollIntoView(); });
    load();
    if (!params.has('chart')) input.focus();
  }

  function chartRow(repo, chart) {
    const badges = el('span', { class: 'badges' },
      el('span', { class: 'badge version', title: 'Latest chart version', text: chart.version }),
      chart.appVersion ? el('span', { class: 'badge app', title: 'App version', text: 'app ' + chart.appVersion }) : null,
      chart.deprecated ? el('span', { class: 'badge deprecated', text: 'deprecated' }) : null);
    return el('li', { class: 'chart-row' },
      el('a', { class: 'chart-link', href: link({ repo: repo, chart: chart.name }) },
        icon(chart.name, chart.icon, 'small'),
        el('span', { class: 'chart-main' },
          el('span', { class: 'chart-title' }, el('span', { class: 'chart-name', text: chart.name }), badges),
          el('span', { class: 'chart-description', text: chart.description || 'No description' })),
        el('span', { class: 'chart-meta' },
          el('span', { text: plural(chart.versions, 'version') }),
          el('span', { class: 'muted', text: when(chart.created).slice(0, 10) }))));
  }

  async function showChart(repo, name) {
    setCrumbs([{ text: 'Repositories', href: '#repos' }, { text: repoLabel(repo), href: link({ repo: repo }) }, { text: name }]);
    if (!config.api) { showCharts(repo, new URLSearchParams()); return; }
    show(el('p', { class: 'status', text: 'Loading…' }));
    setState('loading', { view: 'chart' });
    const signal = fresh();
    let versions;
    try {
      versions = await getJson(apiUrl(repo, 'charts/' + encodeURIComponent(name)), signal);
    } catch (e) {
      if (e.name === 'AbortError') return;
      show(notice('error', 'Could not load ' + name + '.', el('p', { text: e.message })));
      setState('error');
      return;
    }
    const latest = versions[0] || {};
    const links = [];
    if (safeUrl(latest.home)) links.push(el('a', { href: safeUrl(latest.home), rel: 'noopener noreferrer', target: '_blank', text: 'Home' }));
    (latest.sources || []).filter(safeUrl).slice(0, 3).forEach(function (source) {
      links.push(el('a', { href: safeUrl(source), rel: 'noopener noreferrer', target: '_blank', text: 'Source' }));
    });
    const keywords = (latest.keywords || []).slice(0, 12).map(function (k) { return el('span', { class: 'keyword', text: k }); });
    const header = el('section', { class: 'chart-header' },
      icon(name, latest.icon, 'large'),
      el('div', { class: 'chart-heading' },
        el('h1', { class: 'chart-name', text: name }),
        el('p', { class: 'chart-description', text: latest.description || 'No description' }),
        el('p', { class: 'facts' },
          el('span', { class: 'badge version', text: latest.version }),
          latest.appVersion ? el('span', { class: 'badge app', text: 'app ' + latest.appVersion }) : null,
          latest.type ? el('span', { class: 'badge', text: latest.type }) : null,
          latest.deprecated ? el('span', { class: 'badge deprecated', text: 'deprecated' }) : null,
          ...links),
        keywords.length ? el('p', { class: 'keywords' }, ...keywords) : null));
    const use = el('section', { class: 'panel install' },
      el('h2', { text: 'Use it' }),
      command('helm repo add ' + helmName(repo) + ' ' + repoUrl(repo), 'Add the repository'),
      command('helm pull ' + helmName(repo) + '/' + name + ' --version ' + latest.version, 'Pull the latest version'));
    const rows = el('tbody', {});
    const table = el('table', { class: 'versions', id: 'versions' },
      el('thead', {}, el('tr', {},
        el('th', { text: 'Version' }), el('th', { text: 'App version' }), el('th', { text: 'Created' }),
        el('th', { text: 'Digest (SHA-256)' }), el('th', { class: 'actions', text: 'helm pull' }))),
      rows);
    const drawRows = function (count) {
      rows.replaceChildren(...versions.slice(0, count).map(function (v) {
        const pull = 'helm pull ' + helmName(repo) + '/' + name + ' --version ' + v.version;
        const code = el('code', { class: 'hidden-command', text: pull });
        const button = el('button', { type: 'button', class: 'copy', title: pull, text: 'Copy' });
        button.addEventListener('click', function () { copy(pull, code, button); });
        const download = (v.urls || [])[0];
        return el('tr', { class: 'version-row' },
          el('td', {}, download
            ? el('a', { class: 'version', href: new URL(download, repoUrl(repo) + '/').href, title: 'Download the package', text: v.version })
            : el('span', { class: 'version', text: v.version })),
          el('td', { text: v.appVersion || '' }),
          el('td', { class: 'created', title: v.created || '', text: when(v.created) }),
          el('td', {}, el('code', { class: 'digest', title: v.digest || '', text: v.digest || '' })),
          el('td', { class: 'actions' }, code, button));
      }));
    };
    drawRows(VERSIONS);
    const more = versions.length > VERSIONS
      ? el('button', { type: 'button', class: 'page-button', text: 'Show all ' + number(versions.length) + ' versions',
        onclick: function () { drawRows(versions.length); more.remove(); } })
      : null;
    show(header, use,
      el('section', { class: 'panel' }, el('h2', {}, 'Versions ', el('span', { class: 'count', text: number(versions.length) })),
        el('div', { class: 'table-wrap' }, table), more));
    setState('ready', { view: 'chart' });
  }

  function render() {
    const params = new URLSearchParams(location.hash.slice(1));
    if (!params.has('repo')) {
      // The page is also what a browser gets at a repository's own URL (`/myrepo/`), and
      // a server with one repository (DEPTH=0 has only one) opens it straight away.
      const names = config.repositories.map(function (r) { return r.name; });
      let here = location.pathname.slice(context.length).replace(/^\/+|\/+$/g, '');
      try { here = decodeURIComponent(here); } catch (e) { here = ''; }
      const open = names.includes(here) && here !== '' ? here : names.length === 1 ? names[0] : null;
      if (!params.has('repos') && open !== null) {
        location.replace(link({ repo: open }));
        return;
      }
      showRepositories();
    } else if (params.has('chart')) {
      showChart(params.get('repo'), params.get('chart'));
    } else {
      showCharts(params.get('repo'), params);
    }
    window.scrollTo(0, 0);
  }

  document.getElementById('foot').textContent = 'ChartHall ' + config.version;
  window.addEventListener('hashchange', render);
  render();
})();
