"""``kubectl nylas``: a kubectl plugin (the ``kubectl-nylas`` console script) for the three kinds.

Like cert-manager's cmctl: ``status`` (the connector → credential → grant tree with what to do
next), ``consent-url``, ``approve`` and ``wait``. It talks only to the apiserver, with the user's
own kubeconfig credentials, so everything it does is subject to the user's RBAC and admission.

Modules: ``kubeconfig`` (which cluster and credentials), ``client`` (a small synchronous HTTP
client), ``tree`` (pure: objects → tree + next steps), ``progress`` (pure: grants → progress and
exit code), ``render`` (text), ``cli`` (the commands). Nothing in the operator imports it.
"""
