package dev.trellis.it;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * What the chaos suite does to the mesh and when, decided before anything runs: the control plane killed
 * {@code kills} times, each node proxy upgraded {@code upgradesPerNode} times, each node agent restarted once, and
 * {@code flips} edits of the traffic split, spread evenly between the warm-up and the cool-down (load runs alone
 * before the first action and after the last). The disruptive actions take turns (upgrade, kill, agent restart,
 * ...), starting with an upgrade at the end of the warm-up, while the TCP transfer runs; the flips fall between
 * them. The driver runs the actions in this order, each at its time or as soon as the one before it is done.
 */
record ChaosSchedule(List<Action> actions) {

  enum Kind { UPGRADE_NODE_PROXY, KILL_CONTROL_PLANE, RESTART_NODE_AGENT, FLIP_SPLIT }

  /**
   * @param target the node ({@code node-1}), {@code control-plane}, or for a flip the new weights ({@code 95/5}: v1
   *     then v2), mostly v1 and mostly v2 in turn; no two flips, and no flip and the initial 50/50, share a weight, so
   *     each one can be told apart in a node proxy's config
   */
  record Action(Duration at, Kind kind, String target) {
    @Override
    public String toString() {
      return "+" + at.toSeconds() + "s " + kind + " " + target;
    }
  }

  ChaosSchedule {
    actions = List.copyOf(actions);
  }

  static ChaosSchedule plan(Duration length, Duration warmUp, Duration coolDown, List<String> nodes, int kills,
      int upgradesPerNode, int flips) {
    Duration span = length.minus(warmUp).minus(coolDown);
    if (span.isNegative() || span.isZero()) {
      throw new IllegalArgumentException("length " + length + " (expected: longer than warm-up " + warmUp
          + " plus cool-down " + coolDown + ")");
    }
    List<List<Action>> turns = List.of(new ArrayList<>(), new ArrayList<>(), new ArrayList<>());
    for (int i = 0; i < upgradesPerNode; i++) {
      for (String node : nodes) {
        turns.get(0).add(new Action(Duration.ZERO, Kind.UPGRADE_NODE_PROXY, node));
      }
    }
    for (int i = 0; i < kills; i++) {
      turns.get(1).add(new Action(Duration.ZERO, Kind.KILL_CONTROL_PLANE, "control-plane"));
    }
    for (String node : nodes) {
      turns.get(2).add(new Action(Duration.ZERO, Kind.RESTART_NODE_AGENT, node));
    }
    List<Action> disruptive = new ArrayList<>();
    for (int round = 0; disruptive.size() < turns.stream().mapToInt(List::size).sum(); round++) {
      for (List<Action> t : turns) {
        if (round < t.size()) {
          disruptive.add(t.get(round));
        }
      }
    }
    List<Action> out = new ArrayList<>();
    for (int i = 0; i < disruptive.size(); i++) {
      long offset = disruptive.size() == 1 ? 0 : span.toMillis() * i / (disruptive.size() - 1);
      out.add(new Action(warmUp.plusMillis(offset), disruptive.get(i).kind(), disruptive.get(i).target()));
    }
    for (int j = 0; j < flips; j++) {
      long offset = span.toMillis() * (2L * j + 1) / (2L * flips);
      out.add(new Action(warmUp.plusMillis(offset), Kind.FLIP_SPLIT, j % 2 == 0 ? (95 - j) + "/" + (5 + j)
          : (5 + j) + "/" + (95 - j)));
    }
    out.sort(Comparator.comparing(Action::at)); // stable: on a tie the disruptive action goes first
    return new ChaosSchedule(out);
  }

  long count(Kind kind) {
    return actions.stream().filter(a -> a.kind() == kind).count();
  }
}
