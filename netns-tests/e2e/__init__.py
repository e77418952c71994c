"""Helpers of the end-to-end suite: the lab and the balancer's CLI (lab), captures
(capture), reading them (packets), crafted packets (hostile) and the host's
leftovers (host). The traffic clients that run inside the lab's nodes are in
../clients."""
