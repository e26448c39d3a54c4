package dev.trellis.xds.client;

/** One ADS stream of an {@link AdsClient}, in one protocol variant. Used on the client's executor only. */
interface Transport {

  void open();

  /** Sends the initial subscription of a type (also after a reconnect). */
  void subscribeAll(AdsClient.TypeWatch tw);

  /** Tells the server about a gained ({@code added}) or lost interest in {@code name} ("*" for the wildcard). */
  void subscriptionChanged(AdsClient.TypeWatch tw, String name, boolean added);

  void cancel();
}
