package dev.trellis.cli.check;

import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.Locale;

/** Whether something already listens on an address and port; injectable so mesh checks stay pure in tests. */
@FunctionalInterface
public interface PortProbe {

  boolean inUse(String address, int port);

  /** Never in use: for checks that must not look at this machine. */
  static PortProbe none() {
    return (address, port) -> false;
  }

  /**
   * Tries to bind the port (and lets it go at once): in use when the bind fails with "address already in use".
   * An address this machine does not have is not "in use" — other warnings cover it.
   */
  static PortProbe bind() {
    return (address, port) -> {
      try (ServerSocket socket = new ServerSocket()) {
        socket.setReuseAddress(true);
        socket.bind(new InetSocketAddress(InetAddress.getByName(address), port));
        return false;
      } catch (BindException e) {
        return e.getMessage() != null && e.getMessage().toLowerCase(Locale.ROOT).contains("in use");
      } catch (IOException e) {
        return false;
      }
    };
  }
}
