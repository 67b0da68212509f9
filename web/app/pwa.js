// Service worker registration and the "reload to update" notice.
//
// The worker's URL carries the build version from assets.json (sw.js?v=...),
// so a new build means a new worker script: it installs next to the old one
// and precaches the new shell in its own cache, then waits. The page keeps
// running on the old shell (one version only) and shows the notice; "Reload
// to update" tells the waiting worker to take over, and every open tab
// reloads on the controller change, so no page ever mixes two versions.

export async function registerServiceWorker({ banner, button, onState = () => {} }) {
  if (!('serviceWorker' in navigator)) { onState('unsupported'); return null; }
  const sw = navigator.serviceWorker;
  const hadController = Boolean(sw.controller);
  let reloading = false;
  sw.addEventListener('controllerchange', () => {
    // The first install claims the page without a reload (same version); a
    // later change means a newer shell took over: reload onto it.
    if (!hadController || reloading) return;
    reloading = true;
    location.reload();
  });

  let version = null;
  try {
    const res = await fetch('./assets.json', { cache: 'no-store' });
    if (res.ok) version = (await res.json()).version ?? null;
  } catch {
    // Offline: keep the registration we have.
  }

  let reg = await sw.getRegistration('./');
  if (version) {
    reg = await sw.register(`./sw.js?v=${encodeURIComponent(version)}`, { scope: './', updateViaCache: 'none' });
  }
  if (!reg) { onState('none'); return null; }

  const showUpdate = (worker) => {
    banner.hidden = false;
    button.onclick = () => {
      button.disabled = true;
      worker.postMessage({ type: 'skip-waiting' });
    };
    onState('update-ready');
  };
  const watch = (worker) => {
    if (!worker) return;
    const check = () => {
      if (worker.state === 'installed' && sw.controller) showUpdate(worker);
      else if (worker.state === 'activated') onState('active');
    };
    worker.addEventListener('statechange', check);
    check();
  };
  if (reg.waiting && sw.controller) showUpdate(reg.waiting);
  watch(reg.installing);
  reg.addEventListener('updatefound', () => watch(reg.installing));
  if (reg.active && !reg.waiting && !reg.installing) onState('active');
  return reg;
}
