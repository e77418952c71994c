"""Helpers of the end-to-end suite: its lab and the balancer's CLI (lab), captures
(capture), reading them (packets), crafted packets (hostile), the traffic clients driven
(traffic). The clients themselves, run inside the lab's nodes, are in ../clients; what
every test tree shares (commands, namespaces, dogfish-lab, leftovers) is in ../../testlib."""
