package dev.trellis.controlplane.model;

/**
 * A node running one node proxy.
 *
 * @param address the node's address (local mode: its own loopback address, e.g. 127.0.1.1)
 * @param token the node proxy's bearer token for the control plane (local mode)
 */
public record MeshNode(String name, String address, String token) {}
