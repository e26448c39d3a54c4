package dev.trellis.demo;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Runs one demo service until terminated: {@code http} or {@code grpc}. Where it listens and how it
 * behaves comes from the environment {@code trellis up} sets (see {@link DemoSettings}).
 */
public final class DemoMain {

  private DemoMain() {}

  public static void main(String[] args) throws Exception {
    String kind = args.length == 1 ? args[0] : "";
    DemoSettings settings;
    try {
      settings = DemoSettings.fromEnv(System.getenv());
    } catch (IllegalArgumentException e) {
      System.err.println("error: " + e.getMessage());
      System.exit(2);
      return;
    }
    AutoCloseable service = switch (kind) {
      case "http" -> new HttpDemo(settings, () -> ThreadLocalRandom.current().nextDouble()).start();
      case "grpc" -> new GrpcDemo(settings, () -> ThreadLocalRandom.current().nextDouble()).start();
      default -> {
        System.err.println("usage: DemoMain http|grpc (got: " + String.join(" ", args) + ")");
        System.exit(2);
        yield null;
      }
    };
    System.out.println("demo " + kind + " service " + settings.name() + " (version " + settings.version()
        + ") listening on " + settings.address() + " ports " + settings.ports());
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        service.close();
      } catch (Exception e) {
        System.err.println("error while stopping: " + e);
      }
      stopped.countDown();
    }));
    stopped.await();
  }
}
