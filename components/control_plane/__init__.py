"""HA control plane (design brief: three servers on embedded etcd): quorum and budget arithmetic, hardware
flags, node configs, kube-vip, the plan timeline and document, and the ComponentResource. No Pulumi
outside component.py.
"""
