// SPDX-License-Identifier: Apache-2.0
// Every change asks first: a modal <dialog> (focus kept inside, Escape cancels) saying exactly
// what will be sent.
import { useEffect, useRef } from 'preact/hooks';

export function Confirm({ title, children, action, onConfirm, onCancel }) {
  const dialog = useRef(null);
  useEffect(() => {
    const d = dialog.current;
    if (!d.open) d.showModal();
    return () => d.open && d.close();
  }, []);
  return (
    <dialog ref={dialog} class="confirm" aria-labelledby="confirm-title" onCancel={(e) => { e.preventDefault(); onCancel(); }}>
      <h2 id="confirm-title">{title}</h2>
      <div class="confirm-body">{children}</div>
      <div class="confirm-buttons">
        <button type="button" onClick={onCancel}>Cancel</button>
        <button type="button" class="primary" onClick={onConfirm}>{action}</button>
      </div>
    </dialog>
  );
}
